//! Endwell's web face: server-rendered pages (usable without JavaScript, every
//! asset served from the binary) and the JSON API under `/api/v1` with its
//! OpenAPI document. Handlers translate HTTP to store calls and back; the
//! rules live in `endwell-core`, the data in `endwell-store`.

pub mod api;
pub mod auth;
pub mod calendars;
pub mod contacts;
pub mod error;
pub mod pages;
pub mod throttle;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use endwell_store::Store;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Settings the web layer needs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when Endwell is served over HTTPS).
    pub secure_cookies: bool,
    /// How long a login lasts.
    pub session_hours: i64,
    /// Where people reach this Endwell (`https://endwell.example`), for
    /// links handed to other programs such as the calendar feed; the
    /// request's Host when not set.
    pub public_url: Option<String>,
    /// How often subscribed calendars are read again.
    pub calendar_refresh: std::time::Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            session_hours: 12,
            public_url: None,
            calendar_refresh: std::time::Duration::from_secs(3600),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub login_throttle: Arc<throttle::LoginThrottle>,
    pub policies: Arc<contacts::PolicyCache>,
    pub senders: Arc<contacts::SenderLocks>,
    pub api_tokens: Arc<auth::ApiTokenCache>,
    /// Triage: the built-in English pack unless the packs are configured.
    pub classifier: Arc<endwell_core::triage::PackClassifier>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            login_throttle: Arc::default(),
            policies: Arc::default(),
            senders: Arc::default(),
            api_tokens: Arc::default(),
            classifier: endwell_core::triage::PackClassifier::english(),
        }
    }
}

/// The whole application as a router.
pub fn router(state: AppState) -> Router {
    let security_headers = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    let mut app = Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .route("/healthz", get(healthz))
        .layer(RequestBodyLimitLayer::new(1024 * 1024))
        // A request that takes this long is stuck; answer rather than hang.
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            std::time::Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|r: &axum::http::Request<_>| {
            // The path only, with a feed's secret token left out.
            let path = r.uri().path();
            let path = if path.starts_with("/feed/") { "/feed/…" } else { path };
            tracing::debug_span!("request", method = %r.method(), path)
        }));
    for (name, value) in security_headers {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    app.with_state(state)
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::http::StatusCode {
    match state.store.ping().await {
        Ok(()) => axum::http::StatusCode::OK,
        Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Serve on an already bound listener until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
