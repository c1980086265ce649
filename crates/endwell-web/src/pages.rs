//! Server-rendered pages. Each handler reads the form or query, calls the
//! store with the logged-in viewer, and renders a template; rules live in the
//! core and access decisions in the store. Every POST checks the session's
//! CSRF token, and answers with a redirect (post/redirect/get) or the same
//! form again with the problem named.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use endwell_core::event::{Actor, Event};
use endwell_core::lifecycle::{self, TransitionContext};
use endwell_core::model::{ClientFields, ConsentMethod, EngagementFields, User};
use endwell_core::terms::{Terms, Weekday};
use endwell_core::terms_form::TermsForm;
use endwell_core::{ClientId, DomainError, EngagementId, EngagementState, Transition, access};
use endwell_store::{CaseloadQuery, ClientQuery};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::auth::{self, CurrentUser, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::error::AppError;

mod calendar;
mod office;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/caseload") }))
        .route("/assets/app.css", get(css))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/caseload", get(caseload))
        .route("/week", get(office::week))
        .route("/inbox", get(office::inbox))
        .route("/held", get(office::held))
        .route("/held/release", post(office::release))
        .route("/contacts/{id}/acknowledge", post(office::acknowledge))
        .route("/contacts/{id}/incidents", post(office::record_incident))
        .route("/contacts/{id}/dismissals", post(office::dismiss_proposal))
        .route("/preview", get(office::preview_page).post(office::preview))
        .route("/calendar", get(calendar::calendar_page))
        .route("/calendar/upload", post(calendar::upload))
        .route("/calendar/subscribe", post(calendar::subscribe))
        .route("/calendar/feed", post(calendar::feed_link))
        .route("/calendar/{id}/refresh", post(calendar::refresh))
        .route("/calendar/{id}/remove", post(calendar::remove))
        .route("/feed/{token}", get(calendar::feed))
        .route("/clients", get(clients).post(create_client))
        .route("/clients/new", get(new_client))
        .route("/clients/{id}", get(client).post(update_client))
        .route("/clients/{id}/edit", get(edit_client))
        .route("/clients/{id}/engagements", post(create_engagement))
        .route("/clients/{id}/engagements/new", get(new_engagement))
        .route("/engagements/{id}", get(engagement).post(update_engagement))
        .route("/engagements/{id}/edit", get(edit_engagement))
        .route("/engagements/{id}/transition", post(transition))
        .route("/engagements/{id}/history", get(history))
        .route("/engagements/{id}/agreements", post(create_agreement))
        .route("/engagements/{id}/agreements/new", get(new_agreement))
        .route("/engagements/{id}/agreements/{version}", get(agreement))
        .route("/engagements/{id}/agreements/{version}/consent", post(consent))
}

const CSS: &str = include_str!("../assets/app.css");

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}

// ------------------------------------------------------------------ layout

/// What the frame around every page needs.
pub struct Layout {
    pub title: String,
    pub section: &'static str,
    pub user_name: Option<String>,
    pub csrf: String,
    pub error: Option<String>,
    pub version: &'static str,
    /// Crisis contacts waiting to be acknowledged.
    pub crisis_alerts: i64,
}

impl Layout {
    fn new(title: impl Into<String>, section: &'static str, user: Option<&CurrentUser>) -> Layout {
        Layout {
            title: title.into(),
            section,
            user_name: user.map(|u| u.user.display_name.clone()),
            csrf: user.map(|u| u.csrf.clone()).unwrap_or_default(),
            error: None,
            version: env!("CARGO_PKG_VERSION"),
            crisis_alerts: user.map_or(0, |u| u.crisis_alerts),
        }
    }
}

/// Render a template; pages with client data are never cached.
fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong showing this page.",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

/// An error as a page, in the same words the API uses.
pub fn error_page(user: Option<&CurrentUser>, e: AppError) -> Response {
    let (status, body) = e.classify();
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::CONFLICT => "That could not be done",
        s if s.is_client_error() => "Please check this",
        _ => "Something went wrong",
    };
    render(
        status,
        &ErrorPage {
            layout: Layout::new(heading, "", user),
            heading: heading.into(),
            message: body.message,
        },
    )
}

/// A handler's failure, shown as a page.
pub struct PageError(Box<(Option<CurrentUser>, AppError)>);

impl PageError {
    fn new(user: Option<CurrentUser>, e: AppError) -> PageError {
        PageError(Box::new((user, e)))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (user, e) = *self.0;
        error_page(user.as_ref(), e)
    }
}

trait OrPage<T> {
    fn or_page(self, user: &CurrentUser) -> Result<T, PageError>;
}

impl<T, E: Into<AppError>> OrPage<T> for Result<T, E> {
    fn or_page(self, user: &CurrentUser) -> Result<T, PageError> {
        self.map_err(|e| PageError::new(Some(user.clone()), e.into()))
    }
}

type PageResult = Result<Response, PageError>;

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Parse a submitted form after checking its CSRF token.
fn read_form<T: DeserializeOwned>(user: &CurrentUser, body: &[u8]) -> Result<T, PageError> {
    let c: CsrfOnly = serde_urlencoded::from_bytes(body).unwrap_or(CsrfOnly { csrf: String::new() });
    user.check_csrf(&c.csrf).or_page(user)?;
    serde_urlencoded::from_bytes(body)
        .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))
        .or_page(user)
}

pub(crate) fn parse_id<T: std::str::FromStr>(s: &str) -> Result<T, AppError> {
    s.parse().map_err(|_| AppError::NotFound)
}

/// The field a domain error names, for `aria-invalid`.
fn field_of(e: &AppError) -> String {
    match e {
        AppError::Domain(DomainError::Invalid { field, .. })
        | AppError::Store(endwell_store::StoreError::Domain(DomainError::Invalid { field, .. })) => field.clone(),
        _ => String::new(),
    }
}

fn is_validation(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Domain(_)
            | AppError::Store(endwell_store::StoreError::Domain(_))
            | AppError::Store(endwell_store::StoreError::Conflict(_))
    )
}

fn message_of(e: &AppError) -> String {
    e.classify().1.message
}

fn fmt_date(d: Option<Date>) -> String {
    d.map(|d| d.strftime("%-d %b %Y").to_string())
        .unwrap_or_else(|| "—".into())
}

fn fmt_time(t: Timestamp, tz: &str) -> String {
    let tz = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    t.to_zoned(tz).strftime("%-d %b %Y, %H:%M").to_string()
}

fn today(user: &User) -> Date {
    let tz = jiff::tz::TimeZone::get(&user.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    Timestamp::now().to_zoned(tz).date()
}

// ------------------------------------------------------------------- login

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    next: String,
    email: String,
}

#[derive(Deserialize, Default)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only same-site paths are followed after login.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/caseload".into()
    }
}

fn login_form(state: &AppState, next: &str, email: &str, error: Option<String>, status: StatusCode) -> Response {
    let csrf = auth::new_token();
    let mut layout = Layout::new("Log in", "", None);
    layout.error = error;
    let mut r = render(
        status,
        &LoginPage {
            layout,
            csrf: csrf.clone(),
            next: safe_next(next),
            email: email.into(),
        },
    );
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(state, LOGIN_CSRF_COOKIE, &csrf, 3600)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn login_page(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    login_form(&state, &q.next, "", None, StatusCode::OK)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(f) = serde_urlencoded::from_bytes::<LoginForm>(&body) else {
        return login_form(
            &state,
            "",
            "",
            Some("The form could not be read; please try again.".into()),
            StatusCode::BAD_REQUEST,
        );
    };
    // Double-submit check: the token in the form must match the cookie set with it.
    let cookie = auth::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if f.csrf.is_empty() || !auth::constant_time_eq(cookie.as_bytes(), f.csrf.as_bytes()) {
        return login_form(
            &state,
            &f.next,
            &f.email,
            Some("This form expired. Please log in again.".into()),
            StatusCode::FORBIDDEN,
        );
    }
    if let Some(wait) = state.login_throttle.blocked(&f.email, std::time::Instant::now()) {
        let minutes = wait.as_secs().div_ceil(60);
        tracing::warn!("login refused: too many failed attempts for one account");
        return login_form(
            &state,
            &f.next,
            &f.email,
            Some(format!(
                "Too many failed attempts for this account. Please wait {minutes} minute{} and try again, or ask your administrator to set a new password.",
                if minutes == 1 { "" } else { "s" }
            )),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let found = match state.store.user_for_login(&f.email).await {
        Ok(found) => found,
        Err(e) => return error_page(None, e.into()),
    };
    let password = f.password.clone();
    let hash = found.as_ref().and_then(|(_, h)| h.clone());
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(hash.as_deref(), &password))
        .await
        .unwrap_or(false);
    let Some((user, _)) = found.filter(|_| ok) else {
        tracing::info!("failed login");
        state.login_throttle.failed(&f.email, std::time::Instant::now());
        return login_form(
            &state,
            &f.next,
            &f.email,
            Some("That email and password do not match an account.".into()),
            StatusCode::UNAUTHORIZED,
        );
    };
    state.login_throttle.succeeded(&f.email);
    let token = auth::new_token();
    let csrf = auth::new_token();
    let hours = state.config.session_hours;
    let expires = Timestamp::now() + jiff::SignedDuration::from_hours(hours);
    if let Err(e) = state
        .store
        .create_session(user.id, &auth::token_hash(&token), &csrf, expires)
        .await
    {
        return error_page(None, e.into());
    }
    tracing::info!(user = %user.id, "logged in");
    let mut r = Redirect::to(&safe_next(&f.next)).into_response();
    for c in [
        auth::set_cookie(&state, SESSION_COOKIE, &token, hours * 3600),
        auth::set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

async fn logout(State(state): State<AppState>, user: CurrentUser, body: Bytes) -> PageResult {
    let _: CsrfOnly = read_form(&user, &body)?;
    state.store.delete_session(&user.session_hash).await.or_page(&user)?;
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(&state, SESSION_COOKIE, "", 0)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

// ---------------------------------------------------------------- caseload

struct Tab {
    state: &'static str,
    label: String,
    count: i64,
    current: bool,
}

struct CaseRow {
    id: String,
    client: String,
    title: String,
    started: String,
    planned_end: String,
    next_review: String,
    review_due: bool,
    owner: String,
}

#[derive(Template)]
#[template(path = "caseload.html")]
struct CaseloadPage {
    layout: Layout,
    tabs: Vec<Tab>,
    rows: Vec<CaseRow>,
    state: &'static str,
    state_label: &'static str,
    next_page: Option<String>,
    show_owner: bool,
}

#[derive(Deserialize, Default)]
struct CaseloadParams {
    state: Option<String>,
    after: Option<String>,
}

fn state_label(s: EngagementState) -> &'static str {
    match s {
        EngagementState::Proposed => "Proposed",
        EngagementState::Active => "Active",
        EngagementState::Ending => "Ending",
        EngagementState::Ended => "Ended",
        EngagementState::Transferred => "Transferred",
    }
}

async fn caseload(State(state): State<AppState>, user: CurrentUser, Query(p): Query<CaseloadParams>) -> PageResult {
    let st = match p.state.as_deref() {
        None | Some("") => EngagementState::Active,
        Some(s) => s.parse().or_page(&user)?,
    };
    let after = match p.after.as_deref() {
        None | Some("") => None,
        Some(s) => Some(parse_id::<EngagementId>(s).or_page(&user)?),
    };
    let page = state
        .store
        .caseload(
            user.viewer(),
            CaseloadQuery {
                state: st,
                after,
                per_page: 50,
            },
        )
        .await
        .or_page(&user)?;
    let show_owner = page.items.iter().any(|i| i.engagement.practitioner_id != user.user.id);
    let names = if show_owner {
        state.store.users().await.or_page(&user)?
    } else {
        Vec::new()
    };
    let today = today(&user.user);
    let rows = page
        .items
        .iter()
        .map(|i| {
            let e = &i.engagement;
            CaseRow {
                id: e.id.to_string(),
                client: i.client_name.clone(),
                title: e.title.clone(),
                started: fmt_date(e.started_on),
                planned_end: fmt_date(e.planned_end),
                next_review: fmt_date(e.next_review),
                review_due: e.review_due(today),
                owner: names
                    .iter()
                    .find(|u| u.id == e.practitioner_id)
                    .map(|u| u.display_name.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let tabs = page
        .counts
        .iter()
        .map(|(s, n)| Tab {
            state: s.as_str(),
            label: state_label(*s).into(),
            count: *n,
            current: *s == st,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &CaseloadPage {
            layout: Layout::new("Caseload", "caseload", Some(&user)),
            tabs,
            rows,
            state: st.as_str(),
            state_label: state_label(st),
            next_page: page.next_after.map(|id| id.to_string()),
            show_owner,
        },
    ))
}

// ----------------------------------------------------------------- clients

struct ClientRow {
    id: String,
    name: String,
    email: String,
    phone: String,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage {
    layout: Layout,
    clients: Vec<ClientRow>,
    search: String,
    next_page: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClientsParams {
    q: String,
    after: String,
}

async fn clients(State(state): State<AppState>, user: CurrentUser, Query(p): Query<ClientsParams>) -> PageResult {
    let after = match p.after.trim() {
        "" => None,
        a => Some(parse_id::<ClientId>(a).or_page(&user)?),
    };
    let search = Some(p.q.trim().to_string()).filter(|s| !s.is_empty());
    let page = state
        .store
        .clients(
            user.viewer(),
            ClientQuery {
                search,
                after,
                per_page: 100,
            },
        )
        .await
        .or_page(&user)?;
    let clients = page
        .items
        .iter()
        .map(|c| ClientRow {
            id: c.id.to_string(),
            name: c.display_name(),
            email: c.emails.first().cloned().unwrap_or_default(),
            phone: c.phones.first().cloned().unwrap_or_default(),
        })
        .collect();
    let next_page = page.next_after.map(|id| {
        if p.q.trim().is_empty() {
            format!("/clients?after={id}")
        } else {
            format!("/clients?q={}&after={id}", auth::url_encode(p.q.trim()))
        }
    });
    Ok(render(
        StatusCode::OK,
        &ClientsPage {
            layout: Layout::new("Clients", "clients", Some(&user)),
            clients,
            search: p.q.trim().to_string(),
            next_page,
        },
    ))
}

/// The client form as typed: lists are one per line.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ClientForm {
    given_name: String,
    family_name: String,
    preferred_name: String,
    emails: String,
    phones: String,
    vulnerability_notes: String,
}

impl ClientForm {
    fn fields(&self) -> ClientFields {
        let lines = |s: &str| {
            s.lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        };
        ClientFields {
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            preferred_name: self.preferred_name.clone(),
            emails: lines(&self.emails),
            phones: lines(&self.phones),
            vulnerability_notes: self.vulnerability_notes.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "client_form.html")]
struct ClientFormPage {
    layout: Layout,
    heading: String,
    action: String,
    cancel: String,
    form: ClientForm,
    field: String,
}

async fn new_client(user: CurrentUser) -> Response {
    render(
        StatusCode::OK,
        &ClientFormPage {
            layout: Layout::new("Add a client", "clients", Some(&user)),
            heading: "Add a client".into(),
            action: "/clients".into(),
            cancel: "/clients".into(),
            form: ClientForm::default(),
            field: String::new(),
        },
    )
}

fn client_form_again(
    user: &CurrentUser,
    heading: &str,
    action: String,
    cancel: String,
    form: ClientForm,
    e: AppError,
) -> PageResult {
    if !is_validation(&e) {
        return Err(PageError::new(Some(user.clone()), e));
    }
    let mut layout = Layout::new(heading, "clients", Some(user));
    layout.error = Some(message_of(&e));
    Ok(render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &ClientFormPage {
            layout,
            heading: heading.into(),
            action,
            cancel,
            form,
            field: field_of(&e),
        },
    ))
}

async fn create_client(State(state): State<AppState>, user: CurrentUser, body: Bytes) -> PageResult {
    let form: ClientForm = read_form(&user, &body)?;
    match state.store.create_client(user.viewer(), form.fields()).await {
        Ok(c) => Ok(Redirect::to(&format!("/clients/{}", c.id)).into_response()),
        Err(e) => client_form_again(
            &user,
            "Add a client",
            "/clients".into(),
            "/clients".into(),
            form,
            e.into(),
        ),
    }
}

async fn edit_client(State(state): State<AppState>, user: CurrentUser, Path(id): Path<String>) -> PageResult {
    let id: ClientId = parse_id(&id).or_page(&user)?;
    let c = state.store.client(user.viewer(), id).await.or_page(&user)?;
    if !access::can_change(user.viewer(), c.practitioner_id) {
        return Err(PageError::new(Some(user), endwell_store::StoreError::Forbidden.into()));
    }
    let form = ClientForm {
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        preferred_name: c.preferred_name.clone(),
        emails: c.emails.join("\n"),
        phones: c.phones.join("\n"),
        vulnerability_notes: c.vulnerability_notes.clone(),
    };
    Ok(render(
        StatusCode::OK,
        &ClientFormPage {
            layout: Layout::new(format!("Edit {}", c.display_name()), "clients", Some(&user)),
            heading: format!("Edit {}", c.display_name()),
            action: format!("/clients/{id}"),
            cancel: format!("/clients/{id}"),
            form,
            field: String::new(),
        },
    ))
}

async fn update_client(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let id: ClientId = parse_id(&id).or_page(&user)?;
    let form: ClientForm = read_form(&user, &body)?;
    match state.store.update_client(user.viewer(), id, form.fields()).await {
        Ok(_) => Ok(Redirect::to(&format!("/clients/{id}")).into_response()),
        Err(e) => client_form_again(
            &user,
            "Edit client",
            format!("/clients/{id}"),
            format!("/clients/{id}"),
            form,
            e.into(),
        ),
    }
}

struct EngagementLink {
    id: String,
    title: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage {
    layout: Layout,
    id: String,
    name: String,
    given_name: String,
    family_name: String,
    preferred_name: String,
    emails: Vec<String>,
    phones: Vec<String>,
    notes: String,
    can_change: bool,
    engagements: Vec<EngagementLink>,
}

async fn client(State(state): State<AppState>, user: CurrentUser, Path(id): Path<String>) -> PageResult {
    let id: ClientId = parse_id(&id).or_page(&user)?;
    let c = state.store.client(user.viewer(), id).await.or_page(&user)?;
    let engagements = state
        .store
        .engagements_of_client(user.viewer(), id)
        .await
        .or_page(&user)?;
    Ok(render(
        StatusCode::OK,
        &ClientPage {
            layout: Layout::new(c.display_name(), "clients", Some(&user)),
            id: c.id.to_string(),
            name: c.display_name(),
            given_name: c.given_name.clone(),
            family_name: c.family_name.clone(),
            preferred_name: c.preferred_name.clone(),
            emails: c.emails.clone(),
            phones: c.phones.clone(),
            notes: c.vulnerability_notes.clone(),
            can_change: access::can_change(user.viewer(), c.practitioner_id),
            engagements: engagements
                .iter()
                .map(|e| EngagementLink {
                    id: e.id.to_string(),
                    title: e.title.clone(),
                    state: e.state.as_str(),
                })
                .collect(),
        },
    ))
}

// ------------------------------------------------------------- engagements

/// The engagement form as typed: dates may be empty.
#[derive(Deserialize, Default)]
#[serde(default)]
struct EngagementForm {
    title: String,
    started_on: String,
    planned_end: String,
    next_review: String,
}

impl EngagementForm {
    fn fields(&self) -> Result<EngagementFields, AppError> {
        Ok(EngagementFields::from_text(
            &self.title,
            &self.started_on,
            &self.planned_end,
            &self.next_review,
        )?)
    }
}

#[derive(Template)]
#[template(path = "engagement_form.html")]
struct EngagementFormPage {
    layout: Layout,
    heading: String,
    action: String,
    cancel: String,
    client_id: String,
    client_name: String,
    form: EngagementForm,
    field: String,
}

/// The engagement form, new (`existing` is None) or edit, with an error if any.
fn engagement_form(
    user: &CurrentUser,
    client: &endwell_core::model::Client,
    existing: Option<&endwell_core::model::Engagement>,
    form: EngagementForm,
    error: Option<&AppError>,
) -> Response {
    let (heading, action, cancel, section) = match existing {
        None => (
            format!("Open an engagement with {}", client.display_name()),
            format!("/clients/{}/engagements", client.id),
            format!("/clients/{}", client.id),
            "clients",
        ),
        Some(e) => (
            format!("Edit “{}”", e.title),
            format!("/engagements/{}", e.id),
            format!("/engagements/{}", e.id),
            "caseload",
        ),
    };
    let mut layout = Layout::new(heading.clone(), section, Some(user));
    layout.error = error.map(message_of);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &EngagementFormPage {
            layout,
            heading,
            action,
            cancel,
            client_id: client.id.to_string(),
            client_name: client.display_name(),
            form,
            field: error.map(field_of).unwrap_or_default(),
        },
    )
}

async fn new_engagement(State(state): State<AppState>, user: CurrentUser, Path(id): Path<String>) -> PageResult {
    let id: ClientId = parse_id(&id).or_page(&user)?;
    let c = state.store.client(user.viewer(), id).await.or_page(&user)?;
    Ok(engagement_form(&user, &c, None, EngagementForm::default(), None))
}

async fn create_engagement(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let id: ClientId = parse_id(&id).or_page(&user)?;
    let form: EngagementForm = read_form(&user, &body)?;
    let result = match form.fields() {
        Ok(f) => state
            .store
            .create_engagement(user.viewer(), id, f)
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(e) => Ok(Redirect::to(&format!("/engagements/{}", e.id)).into_response()),
        Err(e) if is_validation(&e) => {
            let c = state.store.client(user.viewer(), id).await.or_page(&user)?;
            Ok(engagement_form(&user, &c, None, form, Some(&e)))
        }
        Err(e) => Err(PageError::new(Some(user), e)),
    }
}

async fn edit_engagement(State(state): State<AppState>, user: CurrentUser, Path(id): Path<String>) -> PageResult {
    let id: EngagementId = parse_id(&id).or_page(&user)?;
    let e = state.store.engagement(user.viewer(), id).await.or_page(&user)?;
    let c = state.store.client(user.viewer(), e.client_id).await.or_page(&user)?;
    let d = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let form = EngagementForm {
        title: e.title.clone(),
        started_on: d(e.started_on),
        planned_end: d(e.planned_end),
        next_review: d(e.next_review),
    };
    Ok(engagement_form(&user, &c, Some(&e), form, None))
}

async fn update_engagement(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let id: EngagementId = parse_id(&id).or_page(&user)?;
    let form: EngagementForm = read_form(&user, &body)?;
    let result = match form.fields() {
        Ok(f) => state
            .store
            .update_engagement(user.viewer(), id, f)
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/engagements/{id}")).into_response()),
        Err(e) if is_validation(&e) => {
            let eng = state.store.engagement(user.viewer(), id).await.or_page(&user)?;
            let c = state.store.client(user.viewer(), eng.client_id).await.or_page(&user)?;
            Ok(engagement_form(&user, &c, Some(&eng), form, Some(&e)))
        }
        Err(e) => Err(PageError::new(Some(user), e)),
    }
}

struct Step {
    key: &'static str,
    label: &'static str,
    quiet: bool,
}

struct AgreementRow {
    version: i64,
    note: String,
    made: String,
    consent: Option<String>,
}

pub struct HistoryRow {
    at: String,
    at_iso: String,
    what: &'static str,
    detail: String,
    who: String,
}

#[derive(Template)]
#[template(path = "engagement.html")]
struct EngagementPage {
    layout: Layout,
    id: String,
    title: String,
    state: &'static str,
    closed: bool,
    client_id: String,
    client_name: String,
    owner: String,
    started: String,
    planned_end: String,
    next_review: String,
    can_change: bool,
    steps: Vec<Step>,
    /// Who a transfer may go to: the other practitioners here.
    colleagues: Vec<(String, String)>,
    needs_consent: bool,
    agreements: Vec<AgreementRow>,
    history: Vec<HistoryRow>,
    /// Boundary incidents: (when, category in words, started by, what happened, response).
    incidents: Vec<(String, &'static str, &'static str, String, String)>,
}

fn consent_text(a: &endwell_core::model::Agreement, tz: &str) -> Option<String> {
    a.consent
        .as_ref()
        .map(|c| format!("{}, {}, {}", c.given_by, c.method.label(), fmt_time(c.at, tz)))
}

/// One line of history in words.
fn history_row(ev: &Event, users: &[User], tz: &str) -> HistoryRow {
    let detail = ev.detail();
    let who = match ev.actor {
        Actor::User(id) => users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.display_name.clone())
            .unwrap_or_else(|| "a former user".into()),
        Actor::System => "Endwell".into(),
    };
    HistoryRow {
        at: fmt_time(ev.at, tz),
        at_iso: ev.at.to_string(),
        what: ev.kind.describe(),
        detail,
        who,
    }
}

async fn engagement(State(state): State<AppState>, user: CurrentUser, Path(id): Path<String>) -> PageResult {
    let id: EngagementId = parse_id(&id).or_page(&user)?;
    let v = user.viewer();
    let e = state.store.engagement(v, id).await.or_page(&user)?;
    let c = state.store.client(v, e.client_id).await.or_page(&user)?;
    let agreements = state.store.agreements(v, id).await.or_page(&user)?;
    let events = state.store.engagement_events(v, id, None, 8).await.or_page(&user)?;
    let users = state.store.users().await.or_page(&user)?;
    let incidents = state.store.incidents(v, id).await.or_page(&user)?;
    let tz = user.user.timezone.clone();
    let can_change = access::can_change(v, e.practitioner_id);
    let needs_consent = lifecycle::awaits_consent(e.state, TransitionContext::from_latest(agreements.first()));
    let steps = e
        .state
        .allowed()
        .iter()
        .map(|t| Step {
            key: t.as_str(),
            label: t.label(),
            quiet: matches!(t, Transition::Withdraw | Transition::Resume | Transition::Transfer),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &EngagementPage {
            layout: Layout::new(e.title.clone(), "caseload", Some(&user)),
            id: id.to_string(),
            title: e.title.clone(),
            state: e.state.as_str(),
            closed: e.state.is_closed(),
            client_id: c.id.to_string(),
            client_name: c.display_name(),
            owner: users
                .iter()
                .find(|u| u.id == e.practitioner_id)
                .map(|u| u.display_name.clone())
                .unwrap_or_default(),
            started: fmt_date(e.started_on),
            planned_end: fmt_date(e.planned_end),
            next_review: fmt_date(e.next_review),
            can_change,
            steps,
            colleagues: users
                .iter()
                .filter(|u| u.id != e.practitioner_id && u.role != endwell_core::model::Role::Admin)
                .map(|u| (u.id.to_string(), u.display_name.clone()))
                .collect(),
            needs_consent,
            agreements: agreements
                .iter()
                .map(|a| AgreementRow {
                    version: a.version,
                    note: a.note.clone(),
                    made: fmt_time(a.created_at, &tz),
                    consent: consent_text(a, &tz),
                })
                .collect(),
            history: events.iter().map(|ev| history_row(ev, &users, &tz)).collect(),
            incidents: incidents
                .iter()
                .map(|i| {
                    (
                        fmt_time(i.created_at, &tz),
                        i.category.words(),
                        i.initiated_by.key(),
                        i.what_happened.clone(),
                        i.response.clone(),
                    )
                })
                .collect(),
        },
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TransitionForm {
    transition: String,
    note: String,
    /// A transfer's receiving practitioner (an account id), or empty.
    to: String,
}

async fn transition(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let id: EngagementId = parse_id(&id).or_page(&user)?;
    let form: TransitionForm = read_form(&user, &body)?;
    let t: Transition = form.transition.parse().or_page(&user)?;
    let to = match form.to.trim() {
        "" => None,
        s => Some(
            s.parse()
                .map_err(|_| DomainError::invalid("to", "choose the practitioner from the list"))
                .or_page(&user)?,
        ),
    };
    state
        .store
        .transition_to(user.viewer(), id, t, &form.note, to)
        .await
        .or_page(&user)?;
    Ok(Redirect::to(&format!("/engagements/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    layout: Layout,
    id: String,
    title: String,
    history: Vec<HistoryRow>,
    before: Option<i64>,
}

#[derive(Deserialize, Default)]
struct BeforeQuery {
    before: Option<i64>,
}

async fn history(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<BeforeQuery>,
) -> PageResult {
    let id: EngagementId = parse_id(&id).or_page(&user)?;
    let e = state.store.engagement(user.viewer(), id).await.or_page(&user)?;
    let events = state
        .store
        .engagement_events(user.viewer(), id, q.before, 100)
        .await
        .or_page(&user)?;
    let users = state.store.users().await.or_page(&user)?;
    let before = (events.len() == 100).then(|| events.last().map(|e| e.seq)).flatten();
    Ok(render(
        StatusCode::OK,
        &HistoryPage {
            layout: Layout::new(format!("History of {}", e.title), "caseload", Some(&user)),
            id: id.to_string(),
            title: e.title.clone(),
            history: events
                .iter()
                .map(|ev| history_row(ev, &users, &user.user.timezone))
                .collect(),
            before,
        },
    ))
}

// -------------------------------------------------------------- agreements

struct DayField {
    key: &'static str,
    name: &'static str,
    field: String,
    value: String,
}

#[derive(Template)]
#[template(path = "agreement_form.html")]
struct AgreementFormPage {
    layout: Layout,
    id: String,
    title: String,
    heading: String,
    note: String,
    form: TermsForm,
    days: Vec<DayField>,
    zones: Vec<String>,
    field: String,
}

fn zones() -> Vec<String> {
    static ZONES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ZONES
        .get_or_init(|| {
            let mut z: Vec<String> = jiff::tz::db()
                .available()
                .map(|n| n.to_string())
                .filter(|n| n.contains('/') || n == "UTC")
                .collect();
            z.sort();
            z
        })
        .clone()
}

fn agreement_form_page(
    user: &CurrentUser,
    id: EngagementId,
    title: &str,
    heading: String,
    note: String,
    form: TermsForm,
    error: Option<&AppError>,
) -> Response {
    let value = |d: Weekday| match d {
        Weekday::Mon => form.hours_mon.clone(),
        Weekday::Tue => form.hours_tue.clone(),
        Weekday::Wed => form.hours_wed.clone(),
        Weekday::Thu => form.hours_thu.clone(),
        Weekday::Fri => form.hours_fri.clone(),
        Weekday::Sat => form.hours_sat.clone(),
        Weekday::Sun => form.hours_sun.clone(),
    };
    let days = Weekday::ALL
        .iter()
        .map(|d| DayField {
            key: d.key(),
            name: d.name(),
            field: format!("hours_{}", d.key()),
            value: value(*d),
        })
        .collect();
    let mut zones = zones();
    if !zones.contains(&form.timezone) {
        zones.insert(0, form.timezone.clone());
    }
    let mut layout = Layout::new(heading.clone(), "caseload", Some(user));
    layout.error = error.map(message_of);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &AgreementFormPage {
            layout,
            id: id.to_string(),
            title: title.into(),
            heading,
            note,
            form,
            days,
            zones,
            field: error.map(field_of).unwrap_or_default(),
        },
    )
}

async fn new_agreement(State(state): State<AppState>, user: CurrentUser, Path(id): Path<String>) -> PageResult {
    let id: EngagementId = parse_id(&id).or_page(&user)?;
    let e = state.store.engagement(user.viewer(), id).await.or_page(&user)?;
    let latest = state
        .store
        .agreements(user.viewer(), id)
        .await
        .or_page(&user)?
        .into_iter()
        .next();
    let (terms, heading) = match &latest {
        Some(a) => (
            a.terms.clone(),
            format!("New version of the terms (the current one is version {})", a.version),
        ),
        None => {
            let mut t = Terms::starter(user.user.zone(), &user.user.display_name);
            t.practitioner.addresses = vec![user.user.email.clone()];
            (t, "Write the terms".to_string())
        }
    };
    let note = if latest.is_some() {
        String::new()
    } else {
        "Initial terms".into()
    };
    Ok(agreement_form_page(
        &user,
        id,
        &e.title,
        heading,
        note,
        TermsForm::from_terms(&terms),
        None,
    ))
}

#[derive(Deserialize, Default)]
struct AgreementPost {
    #[serde(flatten)]
    form: TermsForm,
    #[serde(default)]
    note: String,
}

async fn create_agreement(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let id: EngagementId = parse_id(&id).or_page(&user)?;
    let post: AgreementPost = read_form(&user, &body)?;
    let result = match post.form.to_terms() {
        Ok(terms) => state
            .store
            .add_agreement(user.viewer(), id, terms, &post.note)
            .await
            .map_err(AppError::from),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(a) => Ok(Redirect::to(&format!("/engagements/{id}/agreements/{}", a.version)).into_response()),
        Err(e) if is_validation(&e) => {
            let eng = state.store.engagement(user.viewer(), id).await.or_page(&user)?;
            Ok(agreement_form_page(
                &user,
                id,
                &eng.title,
                "Check the terms".into(),
                post.note,
                post.form,
                Some(&e),
            ))
        }
        Err(e) => Err(PageError::new(Some(user), e)),
    }
}

#[derive(Template)]
#[template(path = "agreement.html")]
struct AgreementPage {
    layout: Layout,
    id: String,
    title: String,
    version: i64,
    note: String,
    made: String,
    consent: Option<String>,
    can_change: bool,
    client_name: String,
    timezone: String,
    days: Vec<(&'static str, String)>,
    response_time: u32,
    crisis: Vec<String>,
    toml: String,
}

async fn agreement(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, version)): Path<(String, String)>,
) -> PageResult {
    let id: EngagementId = parse_id(&id).or_page(&user)?;
    let version: i64 = parse_id(&version).or_page(&user)?;
    let e = state.store.engagement(user.viewer(), id).await.or_page(&user)?;
    let c = state.store.client(user.viewer(), e.client_id).await.or_page(&user)?;
    let a = state
        .store
        .agreements(user.viewer(), id)
        .await
        .or_page(&user)?
        .into_iter()
        .find(|a| a.version == version)
        .ok_or(AppError::NotFound)
        .or_page(&user)?;
    let tz = user.user.timezone.clone();
    let t = &a.terms;
    let days = Weekday::ALL
        .iter()
        .map(|d| {
            let r = t.office_hours.day(*d);
            (
                d.name(),
                if r.is_empty() {
                    "closed".to_string()
                } else {
                    r.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
                },
            )
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &AgreementPage {
            layout: Layout::new(format!("Agreement v{version}"), "caseload", Some(&user)),
            id: id.to_string(),
            title: e.title.clone(),
            version,
            note: a.note.clone(),
            made: fmt_time(a.created_at, &tz),
            consent: consent_text(&a, &tz),
            can_change: access::can_change(user.viewer(), e.practitioner_id) && !e.state.is_closed(),
            client_name: c.display_name(),
            timezone: t.timezone.name().to_string(),
            days,
            response_time: t.response_time_hours,
            crisis: t.crisis.resources.clone(),
            toml: t.to_toml(),
        },
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConsentForm {
    given_by: String,
    method: String,
}

async fn consent(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, version)): Path<(String, String)>,
    body: Bytes,
) -> PageResult {
    let id: EngagementId = parse_id(&id).or_page(&user)?;
    let version: i64 = parse_id(&version).or_page(&user)?;
    let form: ConsentForm = read_form(&user, &body)?;
    let method: ConsentMethod = form.method.parse().or_page(&user)?;
    state
        .store
        .record_consent(user.viewer(), id, version, &form.given_by, method)
        .await
        .or_page(&user)?;
    Ok(Redirect::to(&format!("/engagements/{id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next("/engagements/x"), "/engagements/x");
        assert_eq!(safe_next("//evil.example"), "/caseload");
        assert_eq!(safe_next("https://evil.example"), "/caseload");
        assert_eq!(safe_next(""), "/caseload");
    }

    #[test]
    fn dates_read_well() {
        assert_eq!(fmt_date(Some(jiff::civil::date(2026, 3, 4))), "4 Mar 2026");
        assert_eq!(fmt_date(None), "—");
    }
}
