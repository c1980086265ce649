//! Triage over the API: what `endwell triage --json` prints, for a message
//! sent by another system (a mail gateway, a portal) before it is recorded.

use axum::Json;
use axum::extract::State;
use endwell_core::DomainError;
use endwell_core::message::Message;
use endwell_core::triage::{Classifier, is_crisis};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiJson, ApiResult};
use crate::AppState;
use crate::auth::ApiUser;
use crate::error::ErrorBody;

/// A message to triage.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageIn {
    /// An RFC 5322 message (MIME and HTML are read), or plain text.
    pub message: String,
}

/// One label found, how sure (0 to 1), and the words that triggered it.
#[derive(Serialize, ToSchema)]
pub struct FindingOut {
    /// `crisis`, `threat_or_abuse`, `romantic_or_sexual`, `gift_or_money`,
    /// `social_invitation`, `social_media`, `scope_change`, `payment`,
    /// `scheduling` or `other`.
    pub label: String,
    pub score: f64,
    pub evidence: Vec<String>,
}

/// DESIGN.md's shape, as `endwell triage --json` prints it.
#[derive(Serialize, ToSchema)]
pub struct TriageOut {
    pub labels: Vec<FindingOut>,
    pub crisis: bool,
}

/// The findings in their JSON form.
pub fn triage_out(findings: &[endwell_core::triage::Finding]) -> TriageOut {
    TriageOut {
        labels: findings
            .iter()
            .map(|f| FindingOut {
                label: f.label.key().to_string(),
                score: f.score,
                evidence: f.evidence.clone(),
            })
            .collect(),
        crisis: is_crisis(findings),
    }
}

#[utoipa::path(post, path = "/api/v1/triage", tag = "contacts", security(("bearer" = [])), request_body = TriageIn,
    responses((status = 200, description = "Labels with scores and evidence; nothing is stored", body = TriageOut), (status = 422, body = ErrorBody)))]
pub async fn triage(
    State(s): State<AppState>,
    _user: ApiUser,
    ApiJson(body): ApiJson<TriageIn>,
) -> ApiResult<Json<TriageOut>> {
    if body.message.trim().is_empty() {
        return Err(DomainError::invalid("message", "the message is empty").into());
    }
    let message = Message::parse(body.message.as_bytes());
    Ok(Json(triage_out(&s.classifier.classify_message(&message))))
}
