//! Crisis alerts and the boundary log over the API: what the Inbox page
//! offers, for scripts and other systems (an on-call rota, a case system).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use endwell_core::boundary::{Category, InitiatedBy};
use endwell_store::boundary::{Incident, NewIncident};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiJson, ApiResult, ContactOut, id};
use crate::AppState;
use crate::auth::ApiUser;
use crate::error::ErrorBody;

#[utoipa::path(get, path = "/api/v1/alerts", tag = "contacts", security(("bearer" = [])),
    responses((status = 200, description = "Your contacts that may be a crisis and are not yet acknowledged, newest first", body = Vec<ContactOut>)))]
pub async fn alerts(State(s): State<AppState>, user: ApiUser) -> ApiResult<Json<Vec<ContactOut>>> {
    let list = s.store.crisis_alerts(user.viewer()).await?;
    Ok(Json(list.iter().map(ContactOut::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/acknowledge", tag = "contacts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Contact id")),
    responses((status = 200, description = "Acknowledged: no longer an alert", body = ContactOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn acknowledge(
    State(s): State<AppState>,
    user: ApiUser,
    Path(cid): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    let c = s.store.acknowledge_crisis(user.viewer(), id::<Uuid>(&cid)?).await?;
    Ok(Json(ContactOut::from(&c)))
}

/// A proposal set aside.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissIn {
    /// The proposed category, e.g. `gifts_or_money`.
    pub category: String,
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/dismissals", tag = "boundaries", security(("bearer" = [])), request_body = DismissIn,
    params(("id" = String, Path, description = "Contact id")),
    responses((status = 204, description = "The proposal is set aside"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn dismiss(
    State(s): State<AppState>,
    user: ApiUser,
    Path(cid): Path<String>,
    ApiJson(body): ApiJson<DismissIn>,
) -> ApiResult<StatusCode> {
    let category: Category = body.category.parse()?;
    s.store
        .dismiss_proposal(user.viewer(), id::<Uuid>(&cid)?, category)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A boundary incident to record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentIn {
    /// One of DESIGN.md's categories, e.g. `gifts_or_money`, `scope_creep`.
    pub category: String,
    /// `client` (default), `practitioner` or `other`.
    #[serde(default)]
    pub initiated_by: Option<String>,
    pub what_happened: String,
    #[serde(default)]
    pub response: String,
    /// The contact it came from, if any (one of this engagement's).
    #[serde(default)]
    pub contact_id: Option<String>,
}

/// A recorded boundary incident.
#[derive(Serialize, ToSchema)]
pub struct IncidentOut {
    pub id: String,
    pub engagement_id: String,
    pub category: String,
    pub initiated_by: String,
    pub what_happened: String,
    pub response: String,
    pub contact_id: Option<String>,
    pub created_at: String,
}

impl From<&Incident> for IncidentOut {
    fn from(i: &Incident) -> Self {
        IncidentOut {
            id: i.id.to_string(),
            engagement_id: i.engagement_id.to_string(),
            category: i.category.key().into(),
            initiated_by: i.initiated_by.key().into(),
            what_happened: i.what_happened.clone(),
            response: i.response.clone(),
            contact_id: i.contact_id.map(|c| c.to_string()),
            created_at: i.created_at.to_string(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/engagements/{id}/incidents", tag = "boundaries", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engagement id")),
    responses((status = 200, description = "The engagement's boundary incidents, newest first", body = Vec<IncidentOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
) -> ApiResult<Json<Vec<IncidentOut>>> {
    let list = s.store.incidents(user.viewer(), id(&eid)?).await?;
    Ok(Json(list.iter().map(IncidentOut::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/engagements/{id}/incidents", tag = "boundaries", security(("bearer" = [])), request_body = IncidentIn,
    params(("id" = String, Path, description = "Engagement id")),
    responses((status = 201, description = "Recorded, and added to the engagement's history", body = IncidentOut),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
    ApiJson(body): ApiJson<IncidentIn>,
) -> ApiResult<(StatusCode, Json<IncidentOut>)> {
    let category: Category = body.category.parse()?;
    let initiated_by: InitiatedBy = body.initiated_by.as_deref().unwrap_or("client").parse()?;
    let contact_id = body
        .contact_id
        .as_deref()
        .map(|c| {
            c.parse::<Uuid>()
                .map_err(|_| endwell_core::DomainError::invalid("contact_id", format!("{c:?} is not a contact id")))
        })
        .transpose()?;
    let incident = s
        .store
        .record_incident(
            user.viewer(),
            id(&eid)?,
            NewIncident {
                category,
                initiated_by,
                what_happened: body.what_happened,
                response: body.response,
                contact_id,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(IncidentOut::from(&incident))))
}
