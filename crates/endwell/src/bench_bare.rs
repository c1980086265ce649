//! A bare axum endpoint for `bench/decide_http.py`: the baseline the decide
//! endpoint is compared with. It serves the decide endpoint's path, reads
//! the same JSON body with serde and answers 201 with a small fixed JSON,
//! on the same tokio runtime as `serve`, with no middleware, no
//! authentication and no database.

use anyhow::Context;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

/// The decide endpoint's request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactIn {
    channel: String,
    message: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

async fn contact(Path(id): Path<String>, Json(body): Json<ContactIn>) -> (StatusCode, Json<serde_json::Value>) {
    // Use every field, so that none of the work can be left out.
    let n = id.len()
        + body.channel.len()
        + body.message.len()
        + body.from.map_or(0, |f| f.len())
        + body.at.map_or(0, |a| a.len())
        + usize::from(body.dry_run);
    (
        StatusCode::CREATED,
        Json(serde_json::json!({"id": "bare", "action": "deliver", "bytes": n})),
    )
}

/// Serve until killed.
pub async fn serve(listen: &str) -> anyhow::Result<()> {
    let app = axum::Router::new()
        .route("/api/v1/engagements/{id}/contacts", post(contact))
        .route("/healthz", get(|| async { StatusCode::OK }));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("bare endpoint at http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
