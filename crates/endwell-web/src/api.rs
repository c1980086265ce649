//! The JSON API under `/api/v1`, for the same resources as the pages, with
//! bearer tokens (`endwell token create`). The OpenAPI document at
//! `/api/v1/openapi.json` is generated from these handlers and types.
//!
//! Status codes: 400 malformed JSON; 401 no or bad token; 404 unknown id or
//! another practitioner's data (existence is not revealed); 403 readable but
//! not changeable; 409 a lifecycle step not allowed now or a conflict;
//! 422 a field is invalid (`field` names it).

use axum::extract::{FromRequest, Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use endwell_core::event::Event;
use endwell_core::model::{Agreement, Client, ClientFields, ConsentMethod, Engagement, EngagementFields, User};
use endwell_core::{ClientId, DomainError, EngagementId, EngagementState, Terms, Transition};
use endwell_store::{CaseloadQuery, ClientQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

mod boundary;
mod calendars;
mod triage;

use crate::AppState;
use crate::auth::ApiUser;
use crate::error::{ApiError, ErrorBody};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/me", get(me))
        .route("/clients", get(list_clients).post(create_client))
        .route("/clients/{id}", get(get_client).put(update_client))
        .route("/engagements", get(list_engagements).post(create_engagement))
        .route("/engagements/{id}", get(get_engagement).put(update_engagement))
        .route("/engagements/{id}/transitions", post(transition))
        .route(
            "/engagements/{id}/agreements",
            get(list_agreements).post(create_agreement),
        )
        .route("/engagements/{id}/agreements/{version}/consent", post(consent))
        .route("/engagements/{id}/events", get(list_events))
        .route("/engagements/{id}/contacts", get(list_contacts).post(create_contact))
        .route("/engagements/{id}/availability", get(availability))
        .route("/triage", post(triage::triage))
        .route("/alerts", get(boundary::alerts))
        .route("/contacts/{id}/acknowledge", post(boundary::acknowledge))
        .route("/contacts/{id}/dismissals", post(boundary::dismiss))
        .route(
            "/engagements/{id}/incidents",
            get(boundary::list).post(boundary::record),
        )
        .route("/held", get(list_held))
        .route("/held/release", post(release_held))
        .route("/calendars", get(calendars::list).post(calendars::add))
        .route("/calendars/{id}", axum::routing::delete(calendars::remove))
        .route("/calendars/{id}/refresh", post(calendars::refresh))
        .route(
            "/calendar-feed",
            get(calendars::feed)
                .post(calendars::new_feed)
                .delete(calendars::feed_off),
        )
}

/// JSON body whose errors come back as `ErrorBody` naming the field.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

type ApiResult<T> = Result<T, ApiError>;

fn id<T: std::str::FromStr>(s: &str) -> Result<T, ApiError> {
    s.parse().map_err(|_| ApiError(crate::error::AppError::NotFound))
}

// ------------------------------------------------------------------- types

/// The account behind the token.
#[derive(Serialize, ToSchema)]
pub struct MeOut {
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// practitioner, supervisor or admin
    pub role: String,
    pub profession: String,
    pub timezone: String,
}

impl From<&User> for MeOut {
    fn from(u: &User) -> Self {
        MeOut {
            id: u.id.to_string(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            role: u.role.to_string(),
            profession: u.profession.clone(),
            timezone: u.timezone.clone(),
        }
    }
}

/// A person served.
#[derive(Serialize, ToSchema)]
pub struct ClientOut {
    pub id: String,
    pub practitioner_id: String,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: String,
    /// Preferred (or given) name and family name.
    pub display_name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub vulnerability_notes: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Client> for ClientOut {
    fn from(c: &Client) -> Self {
        ClientOut {
            id: c.id.to_string(),
            practitioner_id: c.practitioner_id.to_string(),
            given_name: c.given_name.clone(),
            family_name: c.family_name.clone(),
            preferred_name: c.preferred_name.clone(),
            display_name: c.display_name(),
            emails: c.emails.clone(),
            phones: c.phones.clone(),
            vulnerability_notes: c.vulnerability_notes.clone(),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
        }
    }
}

/// A page of clients, by name.
#[derive(Serialize, ToSchema)]
pub struct ClientListOut {
    pub items: Vec<ClientOut>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct ClientParams {
    /// Part of a given, family or preferred name (case-insensitive).
    pub q: Option<String>,
    /// The `next_after` of the previous page.
    pub after: Option<String>,
    /// 1 to 500; default 100.
    pub per_page: Option<u32>,
}

/// A client's editable fields. Only `given_name` is required.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientIn {
    pub given_name: String,
    #[serde(default)]
    pub family_name: String,
    #[serde(default)]
    pub preferred_name: String,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    /// Stored encrypted.
    #[serde(default)]
    pub vulnerability_notes: String,
}

impl From<ClientIn> for ClientFields {
    fn from(c: ClientIn) -> Self {
        ClientFields {
            given_name: c.given_name,
            family_name: c.family_name,
            preferred_name: c.preferred_name,
            emails: c.emails,
            phones: c.phones,
            vulnerability_notes: c.vulnerability_notes,
        }
    }
}

/// One working relationship.
#[derive(Serialize, ToSchema)]
pub struct EngagementOut {
    pub id: String,
    pub client_id: String,
    pub practitioner_id: String,
    /// proposed, active, ending, ended or transferred
    pub state: String,
    pub title: String,
    #[schema(format = Date)]
    pub started_on: Option<String>,
    #[schema(format = Date)]
    pub planned_end: Option<String>,
    #[schema(format = Date)]
    pub next_review: Option<String>,
    /// The lifecycle steps allowed from the current state.
    pub allowed_transitions: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Engagement> for EngagementOut {
    fn from(e: &Engagement) -> Self {
        EngagementOut {
            id: e.id.to_string(),
            client_id: e.client_id.to_string(),
            practitioner_id: e.practitioner_id.to_string(),
            state: e.state.to_string(),
            title: e.title.clone(),
            started_on: e.started_on.map(|d| d.to_string()),
            planned_end: e.planned_end.map(|d| d.to_string()),
            next_review: e.next_review.map(|d| d.to_string()),
            allowed_transitions: e.state.allowed().iter().map(|t| t.to_string()).collect(),
            created_at: e.created_at.to_string(),
            updated_at: e.updated_at.to_string(),
        }
    }
}

/// A new engagement; it starts as `proposed`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngagementIn {
    pub client_id: String,
    pub title: String,
    #[schema(format = Date)]
    pub started_on: Option<String>,
    #[schema(format = Date)]
    pub planned_end: Option<String>,
    #[schema(format = Date)]
    pub next_review: Option<String>,
}

/// An engagement's editable details.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngagementUpdate {
    pub title: String,
    #[schema(format = Date)]
    pub started_on: Option<String>,
    #[schema(format = Date)]
    pub planned_end: Option<String>,
    #[schema(format = Date)]
    pub next_review: Option<String>,
}

impl EngagementUpdate {
    fn fields(&self) -> Result<EngagementFields, ApiError> {
        let text = |d: &Option<String>| d.clone().unwrap_or_default();
        Ok(EngagementFields::from_text(
            &self.title,
            &text(&self.started_on),
            &text(&self.planned_end),
            &text(&self.next_review),
        )?)
    }
}

/// A lifecycle step.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionIn {
    /// activate, withdraw, begin_ending, resume, end or transfer
    pub transition: String,
    #[serde(default)]
    pub note: String,
    /// For a transfer: the email of the practitioner in this Endwell who
    /// takes the work on; the engagement's contacts are forwarded to them.
    #[serde(default)]
    pub to: Option<String>,
}

/// A caseload page.
#[derive(Serialize, ToSchema)]
pub struct CaseloadOut {
    pub state: String,
    pub items: Vec<CaseloadItemOut>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<String>,
    /// How many engagements are in each state.
    pub counts: std::collections::BTreeMap<String, i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseloadItemOut {
    pub client_name: String,
    pub engagement: EngagementOut,
}

#[derive(Deserialize, IntoParams)]
pub struct CaseloadParams {
    /// proposed, active (default), ending, ended or transferred
    pub state: Option<String>,
    /// The `next_after` of the previous page.
    pub after: Option<String>,
    /// 1 to 200; default 50.
    pub per_page: Option<u32>,
}

/// One version of the terms.
#[derive(Serialize, ToSchema)]
pub struct AgreementOut {
    pub id: String,
    pub engagement_id: String,
    pub version: i64,
    /// The terms, in the structure of DESIGN.md's terms TOML.
    #[schema(value_type = Object)]
    pub terms: serde_json::Value,
    /// The same terms as TOML.
    pub terms_toml: String,
    pub note: String,
    pub created_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub consent: Option<ConsentOut>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentOut {
    pub given_by: String,
    #[schema(format = DateTime)]
    pub at: String,
    /// in_person, client_page or written
    pub method: String,
    pub recorded_by: String,
}

impl From<&Agreement> for AgreementOut {
    fn from(a: &Agreement) -> Self {
        AgreementOut {
            id: a.id.to_string(),
            engagement_id: a.engagement_id.to_string(),
            version: a.version,
            terms: serde_json::to_value(&a.terms).unwrap_or_default(),
            terms_toml: a.terms.to_toml(),
            note: a.note.clone(),
            created_by: a.created_by.to_string(),
            created_at: a.created_at.to_string(),
            consent: a.consent.as_ref().map(|c| ConsentOut {
                given_by: c.given_by.clone(),
                at: c.at.to_string(),
                method: c.method.as_str().into(),
                recorded_by: c.recorded_by.to_string(),
            }),
        }
    }
}

/// A new version of the terms: give `terms` (JSON) or `terms_toml`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementIn {
    #[schema(value_type = Object)]
    pub terms: Option<serde_json::Value>,
    pub terms_toml: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// Consent to one version.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentIn {
    pub given_by: String,
    /// in_person, client_page or written
    pub method: String,
}

/// One entry of the append-only, hash-chained history.
#[derive(Serialize, ToSchema)]
pub struct EventOut {
    pub seq: i64,
    pub id: String,
    #[schema(format = DateTime)]
    pub at: String,
    /// `user:<id>` or `system`
    pub actor: String,
    pub kind: String,
    pub client_id: Option<String>,
    pub engagement_id: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&Event> for EventOut {
    fn from(e: &Event) -> Self {
        EventOut {
            seq: e.seq,
            id: e.id.to_string(),
            at: e.at.to_string(),
            actor: e.actor.to_string(),
            kind: e.kind.as_str().into(),
            client_id: e.client_id.map(|c| c.to_string()),
            engagement_id: e.engagement_id.map(|c| c.to_string()),
            data: e.data.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct EventParams {
    /// Only events before this sequence number (for paging back).
    pub before: Option<i64>,
    /// 1 to 500; default 100.
    pub limit: Option<u32>,
}

// ---------------------------------------------------------------- handlers

#[utoipa::path(get, path = "/api/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = MeOut), (status = 401, body = ErrorBody)))]
async fn me(user: ApiUser) -> Json<MeOut> {
    Json(MeOut::from(&user.0))
}

#[utoipa::path(get, path = "/api/v1/clients", tag = "clients", security(("bearer" = [])), params(ClientParams),
    responses((status = 200, body = ClientListOut), (status = 401, body = ErrorBody)))]
async fn list_clients(
    State(s): State<AppState>,
    user: ApiUser,
    Query(p): Query<ClientParams>,
) -> ApiResult<Json<ClientListOut>> {
    let after = match p.after.as_deref() {
        None | Some("") => None,
        Some(a) => Some(
            a.parse::<ClientId>()
                .map_err(|_| DomainError::invalid("after", "is not a client id"))?,
        ),
    };
    let page = s
        .store
        .clients(
            user.viewer(),
            ClientQuery {
                search: p.q,
                after,
                per_page: p.per_page.unwrap_or(100),
            },
        )
        .await?;
    Ok(Json(ClientListOut {
        items: page.items.iter().map(ClientOut::from).collect(),
        next_after: page.next_after.map(|c| c.to_string()),
    }))
}

#[utoipa::path(post, path = "/api/v1/clients", tag = "clients", security(("bearer" = [])), request_body = ClientIn,
    responses((status = 201, body = ClientOut), (status = 422, body = ErrorBody)))]
async fn create_client(
    State(s): State<AppState>,
    user: ApiUser,
    ApiJson(body): ApiJson<ClientIn>,
) -> ApiResult<impl IntoResponse> {
    let c = s.store.create_client(user.viewer(), body.into()).await?;
    Ok((StatusCode::CREATED, Json(ClientOut::from(&c))))
}

#[utoipa::path(get, path = "/api/v1/clients/{id}", tag = "clients", security(("bearer" = [])),
    params(("id" = String, Path, description = "Client id")),
    responses((status = 200, body = ClientOut), (status = 404, body = ErrorBody)))]
async fn get_client(State(s): State<AppState>, user: ApiUser, Path(cid): Path<String>) -> ApiResult<Json<ClientOut>> {
    let c = s.store.client(user.viewer(), id::<ClientId>(&cid)?).await?;
    Ok(Json(ClientOut::from(&c)))
}

#[utoipa::path(put, path = "/api/v1/clients/{id}", tag = "clients", security(("bearer" = [])), request_body = ClientIn,
    params(("id" = String, Path, description = "Client id")),
    responses((status = 200, body = ClientOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_client(
    State(s): State<AppState>,
    user: ApiUser,
    Path(cid): Path<String>,
    ApiJson(body): ApiJson<ClientIn>,
) -> ApiResult<Json<ClientOut>> {
    let c = s
        .store
        .update_client(user.viewer(), id::<ClientId>(&cid)?, body.into())
        .await?;
    Ok(Json(ClientOut::from(&c)))
}

#[utoipa::path(get, path = "/api/v1/engagements", tag = "engagements", security(("bearer" = [])), params(CaseloadParams),
    responses((status = 200, body = CaseloadOut), (status = 422, body = ErrorBody)))]
async fn list_engagements(
    State(s): State<AppState>,
    user: ApiUser,
    Query(p): Query<CaseloadParams>,
) -> ApiResult<Json<CaseloadOut>> {
    let state: EngagementState = match p.state.as_deref() {
        None | Some("") => EngagementState::Active,
        Some(st) => st.parse()?,
    };
    let after = match p.after.as_deref() {
        None | Some("") => None,
        Some(a) => Some(
            a.parse::<EngagementId>()
                .map_err(|_| DomainError::invalid("after", "is not an engagement id"))?,
        ),
    };
    let page = s
        .store
        .caseload(
            user.viewer(),
            CaseloadQuery {
                state,
                after,
                per_page: p.per_page.unwrap_or(50),
            },
        )
        .await?;
    Ok(Json(CaseloadOut {
        state: state.to_string(),
        items: page
            .items
            .iter()
            .map(|i| CaseloadItemOut {
                client_name: i.client_name.clone(),
                engagement: EngagementOut::from(&i.engagement),
            })
            .collect(),
        next_after: page.next_after.map(|i| i.to_string()),
        counts: page.counts.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/engagements", tag = "engagements", security(("bearer" = [])), request_body = EngagementIn,
    responses((status = 201, body = EngagementOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_engagement(
    State(s): State<AppState>,
    user: ApiUser,
    ApiJson(body): ApiJson<EngagementIn>,
) -> ApiResult<impl IntoResponse> {
    let client: ClientId = body
        .client_id
        .parse()
        .map_err(|_| DomainError::invalid("client_id", "is not a client id"))?;
    let fields = EngagementUpdate {
        title: body.title,
        started_on: body.started_on,
        planned_end: body.planned_end,
        next_review: body.next_review,
    }
    .fields()?;
    let e = s.store.create_engagement(user.viewer(), client, fields).await?;
    Ok((StatusCode::CREATED, Json(EngagementOut::from(&e))))
}

#[utoipa::path(get, path = "/api/v1/engagements/{id}", tag = "engagements", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engagement id")),
    responses((status = 200, body = EngagementOut), (status = 404, body = ErrorBody)))]
async fn get_engagement(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
) -> ApiResult<Json<EngagementOut>> {
    let e = s.store.engagement(user.viewer(), id::<EngagementId>(&eid)?).await?;
    Ok(Json(EngagementOut::from(&e)))
}

#[utoipa::path(put, path = "/api/v1/engagements/{id}", tag = "engagements", security(("bearer" = [])), request_body = EngagementUpdate,
    params(("id" = String, Path, description = "Engagement id")),
    responses((status = 200, body = EngagementOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_engagement(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
    ApiJson(body): ApiJson<EngagementUpdate>,
) -> ApiResult<Json<EngagementOut>> {
    let e = s
        .store
        .update_engagement(user.viewer(), id::<EngagementId>(&eid)?, body.fields()?)
        .await?;
    Ok(Json(EngagementOut::from(&e)))
}

#[utoipa::path(post, path = "/api/v1/engagements/{id}/transitions", tag = "engagements", security(("bearer" = [])), request_body = TransitionIn,
    params(("id" = String, Path, description = "Engagement id")),
    responses((status = 200, body = EngagementOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn transition(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
    ApiJson(body): ApiJson<TransitionIn>,
) -> ApiResult<Json<EngagementOut>> {
    let eid: EngagementId = id(&eid)?;
    let t: Transition = body.transition.parse()?;
    let to = match body.to.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(email) => match s.store.user_for_login(email).await? {
            Some((u, _)) => Some(u.id),
            None => {
                return Err(DomainError::invalid(
                    "to",
                    format!("there is no practitioner with the email {email} here"),
                )
                .into());
            }
        },
    };
    let e = s.store.transition_to(user.viewer(), eid, t, &body.note, to).await?;
    Ok(Json(EngagementOut::from(&e)))
}

#[utoipa::path(get, path = "/api/v1/engagements/{id}/agreements", tag = "agreements", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engagement id")),
    responses((status = 200, description = "Every version, newest first", body = Vec<AgreementOut>), (status = 404, body = ErrorBody)))]
async fn list_agreements(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
) -> ApiResult<Json<Vec<AgreementOut>>> {
    let list = s.store.agreements(user.viewer(), id(&eid)?).await?;
    Ok(Json(list.iter().map(AgreementOut::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/engagements/{id}/agreements", tag = "agreements", security(("bearer" = [])), request_body = AgreementIn,
    params(("id" = String, Path, description = "Engagement id")),
    responses((status = 201, body = AgreementOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_agreement(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
    ApiJson(body): ApiJson<AgreementIn>,
) -> ApiResult<impl IntoResponse> {
    let eid: EngagementId = id(&eid)?;
    let terms = match (body.terms, body.terms_toml) {
        (Some(json), None) => Terms::from_json(json)?,
        (None, Some(toml)) => Terms::from_toml(&toml)?,
        _ => return Err(DomainError::invalid("terms", "give exactly one of terms (JSON) or terms_toml").into()),
    };
    let a = s.store.add_agreement(user.viewer(), eid, terms, &body.note).await?;
    Ok((StatusCode::CREATED, Json(AgreementOut::from(&a))))
}

#[utoipa::path(post, path = "/api/v1/engagements/{id}/agreements/{version}/consent", tag = "agreements", security(("bearer" = [])), request_body = ConsentIn,
    params(("id" = String, Path, description = "Engagement id"), ("version" = i64, Path, description = "Agreement version")),
    responses((status = 200, body = AgreementOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn consent(
    State(s): State<AppState>,
    user: ApiUser,
    Path((eid, version)): Path<(String, String)>,
    ApiJson(body): ApiJson<ConsentIn>,
) -> ApiResult<Json<AgreementOut>> {
    let method: ConsentMethod = body.method.parse()?;
    let a = s
        .store
        .record_consent(user.viewer(), id(&eid)?, id(&version)?, &body.given_by, method)
        .await?;
    Ok(Json(AgreementOut::from(&a)))
}

#[utoipa::path(get, path = "/api/v1/engagements/{id}/events", tag = "engagements", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engagement id"), EventParams),
    responses((status = 200, description = "Newest first", body = Vec<EventOut>), (status = 404, body = ErrorBody)))]
async fn list_events(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
    Query(p): Query<EventParams>,
) -> ApiResult<Json<Vec<EventOut>>> {
    let list = s
        .store
        .engagement_events(user.viewer(), id(&eid)?, p.before, p.limit.unwrap_or(100))
        .await?;
    Ok(Json(list.iter().map(EventOut::from).collect()))
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's OpenAPI document, generated from the handlers above.
#[derive(OpenApi)]
#[openapi(
    info(title = "Endwell API", description = "Clients, engagements, agreements and their history. Authenticate with `Authorization: Bearer <token>` (`endwell token create`)."),
    paths(me, list_clients, create_client, get_client, update_client, list_engagements, create_engagement, get_engagement, update_engagement, transition, list_agreements, create_agreement, consent, list_events, create_contact, list_contacts, availability, list_held, release_held,
        triage::triage, boundary::alerts, boundary::acknowledge, boundary::dismiss, boundary::list, boundary::record,
        calendars::list, calendars::add, calendars::remove, calendars::refresh, calendars::feed, calendars::new_feed, calendars::feed_off),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

// ---------------------------------------------------------------- contacts

/// A message or call arriving for an engagement.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    /// `email`, `sms`, `voice` or `portal`.
    pub channel: String,
    /// An RFC 5322 message, or plain text.
    pub message: String,
    /// The sender of a plain-text message (a phone number, a portal account).
    #[serde(default)]
    pub from: Option<String>,
    /// When it arrived (RFC 3339); now when left out.
    #[serde(default)]
    pub at: Option<String>,
    /// Decide without recording (a preview).
    #[serde(default)]
    pub dry_run: bool,
}

/// An automatic reply to send.
#[derive(Serialize, ToSchema)]
pub struct ReplyOut {
    pub to: Option<String>,
    pub subject: Option<String>,
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: String,
}

/// A contact and its decision; `action`, `release_at`, `labels`, `reasons`
/// and `reply` have the shapes of `endwell decide --json`.
#[derive(Serialize, ToSchema)]
pub struct ContactOut {
    /// Absent for a dry run.
    pub id: Option<String>,
    pub engagement_id: String,
    pub channel: String,
    pub sender: String,
    pub subject: Option<String>,
    pub received_at: String,
    /// `deliver`, `hold`, `auto_reply`, `crisis`, `ended`, `forward` or `ignore`.
    pub action: String,
    pub release_at: Option<String>,
    pub released_at: Option<String>,
    /// For a crisis: when it was acknowledged; until then it is an alert.
    pub acknowledged_at: Option<String>,
    pub labels: Vec<String>,
    pub reasons: Vec<String>,
    pub reply: Option<ReplyOut>,
}

fn reply_out(r: &endwell_core::decision::Reply) -> ReplyOut {
    ReplyOut {
        to: r.to.clone(),
        subject: r.subject.clone(),
        headers: r.headers.clone(),
        body: r.body.clone(),
    }
}

impl From<&endwell_store::contacts::ContactEntry> for ContactOut {
    fn from(c: &endwell_store::contacts::ContactEntry) -> Self {
        ContactOut {
            id: Some(c.id.to_string()),
            engagement_id: c.engagement_id.map(|e| e.to_string()).unwrap_or_default(),
            channel: c.channel.key().into(),
            sender: c.sender.clone(),
            subject: c.subject.clone(),
            received_at: c.received_at.to_string(),
            action: c.action.key().into(),
            release_at: c.release_at.map(|t| t.to_string()),
            released_at: c.released_at.map(|t| t.to_string()),
            acknowledged_at: c.acknowledged_at.map(|t| t.to_string()),
            labels: c.labels.iter().map(|f| f.label.key().to_string()).collect(),
            reasons: c.reasons.clone(),
            reply: c.reply.as_ref().map(reply_out),
        }
    }
}

fn parse_at(at: Option<&str>) -> Result<Option<jiff::Timestamp>, DomainError> {
    at.map(|t| {
        t.trim().parse::<jiff::Timestamp>().map_err(|_| {
            DomainError::invalid(
                "at",
                format!("{t:?} is not an RFC 3339 time such as 2026-11-30T20:00:00Z"),
            )
        })
    })
    .transpose()
}

#[utoipa::path(post, path = "/api/v1/engagements/{id}/contacts", tag = "contacts", security(("bearer" = [])), request_body = ContactIn,
    params(("id" = String, Path, description = "Engagement id")),
    responses((status = 201, description = "Recorded with its decision", body = ContactOut), (status = 200, description = "Dry run: the decision, not recorded", body = ContactOut),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_contact(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
    ApiJson(body): ApiJson<ContactIn>,
) -> ApiResult<(StatusCode, Json<ContactOut>)> {
    let engagement: EngagementId = id(&eid)?;
    let channel: endwell_core::terms::Channel = body.channel.parse()?;
    if body.message.trim().is_empty() {
        return Err(DomainError::invalid("message", "the message is empty").into());
    }
    let mut message = endwell_core::message::Message::parse(body.message.as_bytes());
    if let Some(from) = body.from.as_deref().filter(|f| !f.trim().is_empty())
        && message.from.is_none()
    {
        message = endwell_core::message::Message::plain(Some(from), &message.body);
    }
    let incoming = crate::contacts::Incoming {
        engagement,
        channel,
        message,
        at: parse_at(body.at.as_deref())?,
    };
    if body.dry_run {
        let ev = crate::contacts::evaluate(&s, &user.0, &incoming).await?;
        let unsaved = crate::contacts::new_contact(&user.0, &incoming, &ev).into_entry();
        let out = ContactOut {
            id: None,
            ..ContactOut::from(&unsaved)
        };
        return Ok((StatusCode::OK, Json(out)));
    }
    let (entry, _) = crate::contacts::receive(&s, &user.0, incoming).await?;
    Ok((StatusCode::CREATED, Json(ContactOut::from(&entry))))
}

#[utoipa::path(get, path = "/api/v1/engagements/{id}/contacts", tag = "contacts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engagement id")),
    responses((status = 200, description = "The latest 200 contacts, newest first", body = Vec<ContactOut>), (status = 404, body = ErrorBody)))]
async fn list_contacts(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
) -> ApiResult<Json<Vec<ContactOut>>> {
    let engagement: EngagementId = id(&eid)?;
    // Existence and access first, so another practitioner's id is a 404.
    s.store.engagement(user.viewer(), engagement).await?;
    let list = s
        .store
        .inbox(
            user.viewer(),
            endwell_store::contacts::InboxQuery {
                engagement: Some(engagement),
                per_page: 200,
                ..Default::default()
            },
        )
        .await?;
    Ok(Json(list.iter().map(ContactOut::from).collect()))
}

/// Open now? and when that changes.
#[derive(Serialize, ToSchema)]
pub struct AvailabilityOut {
    pub open: bool,
    pub next_open: Option<String>,
    pub next_close: Option<String>,
    /// "You will hear back by" for a message arriving at `at`.
    pub reply_by: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct AtQuery {
    /// RFC 3339; now when left out.
    pub at: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/engagements/{id}/availability", tag = "contacts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engagement id"), AtQuery),
    responses((status = 200, body = AvailabilityOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn availability(
    State(s): State<AppState>,
    user: ApiUser,
    Path(eid): Path<String>,
    Query(q): Query<AtQuery>,
) -> ApiResult<Json<AvailabilityOut>> {
    let engagement: EngagementId = id(&eid)?;
    let at = parse_at(q.at.as_deref())?.unwrap_or_else(jiff::Timestamp::now);
    let (_, terms) = s.store.terms_in_force(user.viewer(), engagement).await?;
    let terms = terms.ok_or_else(|| DomainError::invalid("terms", "this engagement has no terms yet"))?;
    let policy = s.policies.get(engagement, &std::sync::Arc::new(terms), at);
    let a = policy.availability();
    let o = a.openness(at);
    Ok(Json(AvailabilityOut {
        open: o.open,
        next_open: o.next_open.map(|t| t.to_string()),
        next_close: o.next_close.map(|t| t.to_string()),
        reply_by: a.reply_by(at).map(|t| t.to_string()),
    }))
}

#[utoipa::path(get, path = "/api/v1/held", tag = "contacts", security(("bearer" = [])),
    responses((status = 200, description = "Held contacts not yet released, newest first", body = Vec<ContactOut>)))]
async fn list_held(State(s): State<AppState>, user: ApiUser) -> ApiResult<Json<Vec<ContactOut>>> {
    let list = s
        .store
        .inbox(
            user.viewer(),
            endwell_store::contacts::InboxQuery {
                waiting_only: true,
                per_page: 200,
                ..Default::default()
            },
        )
        .await?;
    Ok(Json(list.iter().map(ContactOut::from).collect()))
}

/// A released digest.
#[derive(Serialize, ToSchema)]
pub struct DigestOut {
    pub id: String,
    pub released_at: String,
    pub contact_count: i64,
    pub contacts: Vec<ContactOut>,
}

#[utoipa::path(post, path = "/api/v1/held/release", tag = "contacts", security(("bearer" = [])),
    responses((status = 200, description = "Everything held, released now as one digest", body = DigestOut), (status = 204, description = "Nothing was held")))]
async fn release_held(State(s): State<AppState>, user: ApiUser) -> ApiResult<axum::response::Response> {
    match s.store.release_now(user.viewer()).await? {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(d) => {
            let contacts = s.store.digest_contacts(user.viewer(), d.id).await?;
            Ok(Json(DigestOut {
                id: d.id.to_string(),
                released_at: d.released_at.to_string(),
                contact_count: d.contact_count,
                contacts: contacts.iter().map(ContactOut::from).collect(),
            })
            .into_response())
        }
    }
}
