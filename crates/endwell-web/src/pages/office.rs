//! Office-hours pages: this week's availability, the inbox of contacts with
//! their decisions, the held queue, and the preview ("if a client wrote
//! now, this is what would happen and what they would receive").

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use endwell_core::availability::Availability;
use endwell_core::message::Message;
use endwell_core::terms::{Channel, Terms, Weekday};
use endwell_core::{EngagementId, EngagementState};
use endwell_store::CaseloadQuery;
use endwell_store::contacts::{ContactEntry, InboxQuery};
use jiff::{Timestamp, ToSpan};
use serde::Deserialize;

use super::{Layout, OrPage, PageResult, fmt_time, read_form, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::contacts::{Incoming, evaluate, receive};
use crate::error::AppError;

/// An engagement to choose in a selector.
pub struct Choice {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

/// The viewer's engagements that are not closed, newest first.
async fn choices(
    state: &AppState,
    user: &CurrentUser,
    selected: Option<&str>,
) -> Result<Vec<Choice>, super::PageError> {
    let mut out: Vec<Choice> = Vec::new();
    for st in [
        EngagementState::Active,
        EngagementState::Ending,
        EngagementState::Proposed,
    ] {
        let page = state
            .store
            .caseload(
                user.viewer(),
                CaseloadQuery {
                    state: st,
                    after: None,
                    per_page: 200,
                },
            )
            .await
            .or_page(user)?;
        out.extend(
            page.items
                .iter()
                .filter(|i| i.engagement.practitioner_id == user.user.id)
                .map(|i| Choice {
                    id: i.engagement.id.to_string(),
                    label: format!("{} — {}", i.client_name, i.engagement.title),
                    selected: false,
                }),
        );
    }
    let pick = selected.and_then(|s| out.iter().position(|c| c.id == s)).unwrap_or(0);
    if let Some(c) = out.get_mut(pick) {
        c.selected = true;
    }
    Ok(out)
}

fn selected(choices: &[Choice]) -> Option<EngagementId> {
    choices.iter().find(|c| c.selected).and_then(|c| c.id.parse().ok())
}

// -------------------------------------------------------------- this week

pub struct DayRow {
    pub name: String,
    pub date: String,
    pub open: Vec<String>,
    pub on_call: Vec<String>,
    pub closed: Vec<String>,
    pub today: bool,
}

#[derive(Template)]
#[template(path = "week.html")]
struct WeekPage {
    layout: Layout,
    choices: Vec<Choice>,
    has_terms: bool,
    zone: String,
    now_text: String,
    days: Vec<DayRow>,
    reply_by: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WeekQuery {
    engagement: String,
}

pub async fn week(State(state): State<AppState>, user: CurrentUser, Query(q): Query<WeekQuery>) -> PageResult {
    let choices = choices(&state, &user, Some(&q.engagement)).await?;
    let mut page = WeekPage {
        layout: Layout::new("This week", "week", Some(&user)),
        choices,
        has_terms: false,
        zone: String::new(),
        now_text: String::new(),
        days: Vec::new(),
        reply_by: String::new(),
    };
    if let Some(id) = selected(&page.choices)
        && let (_, Some(terms)) = state.store.terms_in_force(user.viewer(), id).await.or_page(&user)?
    {
        fill_week(&mut page, &terms, Timestamp::now());
    }
    Ok(render(StatusCode::OK, &page))
}

fn fill_week(page: &mut WeekPage, terms: &Terms, now: Timestamp) {
    let zone = terms.timezone.name().to_string();
    let tz = terms.timezone.tz().clone();
    let a = Availability::around(terms, now);
    let today = now.to_zoned(tz.clone()).date();
    let monday = today
        .checked_sub((today.weekday().to_monday_zero_offset() as i64).days())
        .unwrap_or(today);
    let hm = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%H:%M").to_string();
    for i in 0..7 {
        let Ok(day) = monday.checked_add((i as i64).days()) else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            day.to_zoned(tz.clone()).map(|z| z.timestamp()),
            day.tomorrow()
                .and_then(|d| d.to_zoned(tz.clone()))
                .map(|z| z.timestamp()),
        ) else {
            continue;
        };
        let clip = |s: Timestamp, e: Timestamp| {
            let (s, e) = (s.max(start), e.min(end));
            (e > s).then(|| {
                let end_text = if e == end { "24:00".to_string() } else { hm(e) };
                format!("{}–{}", hm(s), end_text)
            })
        };
        let open: Vec<String> = a.open_spells().iter().filter_map(|s| clip(s.start, s.end)).collect();
        let on_call: Vec<String> = a
            .on_call_spells()
            .iter()
            .filter_map(|o| {
                clip(o.spell.start, o.spell.end).map(|t| {
                    let ch: Vec<&str> = o.channels.iter().map(|c| c.key()).collect();
                    if ch.is_empty() {
                        t
                    } else {
                        format!("{t} ({})", ch.join(", "))
                    }
                })
            })
            .collect();
        let closed: Vec<String> = terms
            .exceptions
            .iter()
            .filter(|e| e.touches_day(day))
            .map(|e| {
                if e.reason.is_empty() {
                    "Closed".to_string()
                } else {
                    e.reason.clone()
                }
            })
            .collect();
        page.days.push(DayRow {
            name: Weekday::of(day).name().to_string(),
            date: day.strftime("%-d %b").to_string(),
            open,
            on_call,
            closed,
            today: day == today,
        });
    }
    let o = a.openness(now);
    page.now_text = match (o.open, o.next_open, o.next_close) {
        (true, _, Some(c)) => format!("Open now, until {}.", a.describe(c, &zone)),
        (true, _, None) => "Open now.".into(),
        (false, Some(n), _) => format!("Closed now; opens {}.", a.describe(n, &zone)),
        (false, None, _) => "Closed now, and no office hours within a year.".into(),
    };
    page.reply_by = a
        .reply_by(now)
        .map(|t| a.describe(t, &zone))
        .unwrap_or_else(|| "not within a year".into());
    page.zone = zone;
    page.has_terms = true;
}

// ------------------------------------------------------------------ inbox

pub struct ContactRow {
    pub id: String,
    /// A crisis not yet acknowledged.
    pub alert: bool,
    /// Boundary incidents triage proposes, not yet answered.
    pub proposals: Vec<ProposalRow>,
    pub at: String,
    pub at_iso: String,
    pub channel: &'static str,
    pub sender: String,
    pub subject: String,
    pub excerpt: String,
    pub action: &'static str,
    pub action_label: &'static str,
    pub reasons: Vec<String>,
    pub labels: Vec<String>,
    pub status: String,
    pub reply: Option<String>,
    pub engagement: String,
}

fn action_label(a: endwell_core::decision::Action) -> &'static str {
    use endwell_core::decision::Action::*;
    match a {
        Deliver => "Delivered",
        Hold => "Held",
        AutoReply => "Held, auto-replied",
        Crisis => "Crisis",
        Ended => "Ended reply",
        Forward => "Forwarded",
        Ignore => "Ignored",
    }
}

pub struct ProposalRow {
    pub category: &'static str,
    pub words: &'static str,
    pub what_happened: String,
}

/// Rows for each list of contacts, with the proposals not yet answered
/// (looked up once for all the lists).
async fn contact_rows<const N: usize>(
    state: &AppState,
    user: &CurrentUser,
    lists: [&[ContactEntry]; N],
) -> Result<[Vec<ContactRow>; N], super::PageError> {
    let ids: Vec<uuid::Uuid> = lists.iter().flat_map(|l| l.iter().map(|c| c.id)).collect();
    let answered = state
        .store
        .answered_proposals(user.viewer(), &ids)
        .await
        .or_page(user)?;
    let tz = user.user.timezone.clone();
    Ok(lists.map(|list| {
        list.iter()
            .map(|c| {
                let mut row = contact_row(c, &tz);
                if c.practitioner_id == user.user.id && c.engagement_id.is_some() {
                    row.proposals = endwell_core::boundary::proposals(&c.labels)
                        .into_iter()
                        .filter(|p| !answered.contains(&(c.id, p.category)))
                        .map(|p| ProposalRow {
                            category: p.category.key(),
                            words: p.category.words(),
                            what_happened: p.what_happened,
                        })
                        .collect();
                }
                row
            })
            .collect()
    }))
}

fn contact_row(c: &ContactEntry, tz: &str) -> ContactRow {
    let excerpt: String = c.body.chars().take(280).collect();
    let status = match (c.action.is_held(), c.released_at, c.release_at) {
        (true, Some(r), _) => format!("released {}", fmt_time(r, tz)),
        (true, None, Some(r)) => format!("waiting until {}", fmt_time(r, tz)),
        _ => String::new(),
    };
    ContactRow {
        id: c.id.to_string(),
        alert: c.is_alert(),
        proposals: Vec::new(),
        at: fmt_time(c.received_at, tz),
        at_iso: c.received_at.to_string(),
        channel: c.channel.key(),
        sender: c.sender.clone(),
        subject: c.subject.clone().unwrap_or_default(),
        excerpt: if c.body.chars().count() > 280 {
            format!("{excerpt}…")
        } else {
            excerpt
        },
        action: c.action.key(),
        action_label: action_label(c.action),
        reasons: c.reasons.clone(),
        labels: c
            .labels
            .iter()
            .filter(|f| f.label != endwell_core::triage::Label::Other)
            .map(|f| {
                if f.evidence.is_empty() {
                    f.label.key().to_string()
                } else {
                    format!("{}: “{}”", f.label.key(), f.evidence.join("”, “"))
                }
            })
            .collect(),
        status,
        reply: c.reply.as_ref().map(|r| r.body.clone()),
        engagement: c.engagement_id.map(|e| e.to_string()).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
    held_view: bool,
    /// Crisis contacts not yet acknowledged.
    alerts: Vec<ContactRow>,
    contacts: Vec<ContactRow>,
    digests: Vec<(String, i64, String)>,
    released: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct InboxParams {
    released: Option<i64>,
}

pub async fn inbox(State(state): State<AppState>, user: CurrentUser) -> PageResult {
    let list = state
        .store
        .inbox(
            user.viewer(),
            InboxQuery {
                per_page: 100,
                ..Default::default()
            },
        )
        .await
        .or_page(&user)?;
    let alerts = state.store.crisis_alerts(user.viewer()).await.or_page(&user)?;
    let [alerts, contacts] = contact_rows(&state, &user, [&alerts, &list]).await?;
    Ok(render(
        StatusCode::OK,
        &InboxPage {
            layout: Layout::new("Inbox", "inbox", Some(&user)),
            held_view: false,
            alerts,
            contacts,
            digests: Vec::new(),
            released: None,
        },
    ))
}

pub async fn held(State(state): State<AppState>, user: CurrentUser, Query(p): Query<InboxParams>) -> PageResult {
    let v = user.viewer();
    let list = state
        .store
        .inbox(
            v,
            InboxQuery {
                waiting_only: true,
                per_page: 200,
                ..Default::default()
            },
        )
        .await
        .or_page(&user)?;
    let digests = state.store.digests(v, 10).await.or_page(&user)?;
    let tz = user.user.timezone.clone();
    Ok(render(
        StatusCode::OK,
        &InboxPage {
            layout: Layout::new("Held", "held", Some(&user)),
            held_view: true,
            alerts: Vec::new(),
            contacts: {
                let [rows] = contact_rows(&state, &user, [&list]).await?;
                rows
            },
            digests: digests
                .iter()
                .map(|d| (fmt_time(d.released_at, &tz), d.contact_count, d.id.to_string()))
                .collect(),
            released: p.released,
        },
    ))
}

#[derive(Deserialize)]
struct Empty {}

pub async fn release(State(state): State<AppState>, user: CurrentUser, body: Bytes) -> PageResult {
    let _: Empty = read_form(&user, &body)?;
    let n = state
        .store
        .release_now(user.viewer())
        .await
        .or_page(&user)?
        .map(|d| d.contact_count)
        .unwrap_or(0);
    Ok(Redirect::to(&format!("/held?released={n}")).into_response())
}

/// The practitioner has read a crisis contact and acted.
pub async fn acknowledge(
    State(state): State<AppState>,
    user: CurrentUser,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: Bytes,
) -> PageResult {
    let _: Empty = read_form(&user, &body)?;
    let id: uuid::Uuid = super::parse_id(&id).or_page(&user)?;
    state.store.acknowledge_crisis(user.viewer(), id).await.or_page(&user)?;
    Ok(Redirect::to("/inbox").into_response())
}

#[derive(Deserialize)]
pub struct IncidentForm {
    category: String,
    #[serde(default)]
    what_happened: String,
    #[serde(default)]
    response: String,
}

/// Record a proposed boundary incident.
pub async fn record_incident(
    State(state): State<AppState>,
    user: CurrentUser,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: Bytes,
) -> PageResult {
    let f: IncidentForm = read_form(&user, &body)?;
    let id: uuid::Uuid = super::parse_id(&id).or_page(&user)?;
    let category: endwell_core::boundary::Category = f.category.parse().map_err(AppError::Domain).or_page(&user)?;
    let incident = state
        .store
        .record_incident_from_contact(
            user.viewer(),
            endwell_store::boundary::NewIncident {
                category,
                initiated_by: endwell_core::boundary::InitiatedBy::Client,
                what_happened: f.what_happened,
                response: f.response,
                contact_id: Some(id),
            },
        )
        .await
        .or_page(&user)?;
    Ok(Redirect::to(&format!("/engagements/{}#incidents", incident.engagement_id)).into_response())
}

#[derive(Deserialize)]
pub struct DismissForm {
    category: String,
}

/// A proposal that is not a crossing.
pub async fn dismiss_proposal(
    State(state): State<AppState>,
    user: CurrentUser,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: Bytes,
) -> PageResult {
    let f: DismissForm = read_form(&user, &body)?;
    let id: uuid::Uuid = super::parse_id(&id).or_page(&user)?;
    let category: endwell_core::boundary::Category = f.category.parse().map_err(AppError::Domain).or_page(&user)?;
    state
        .store
        .dismiss_proposal(user.viewer(), id, category)
        .await
        .or_page(&user)?;
    Ok(Redirect::to("/inbox").into_response())
}

// ---------------------------------------------------------------- preview

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PreviewForm {
    engagement: String,
    channel: String,
    from: String,
    at: String,
    message: String,
    record: String,
}

pub struct Outcome {
    pub action: &'static str,
    pub action_label: &'static str,
    pub reasons: Vec<String>,
    pub labels: Vec<String>,
    pub release: String,
    pub reply_to: String,
    pub reply_subject: String,
    pub reply_body: Option<String>,
}

#[derive(Template)]
#[template(path = "preview.html")]
struct PreviewPage {
    layout: Layout,
    choices: Vec<Choice>,
    channels: Vec<(&'static str, bool)>,
    form: PreviewForm,
    outcome: Option<Outcome>,
    recorded: bool,
}

fn channels(selected: &str) -> Vec<(&'static str, bool)> {
    Channel::ALL
        .iter()
        .map(|c| {
            (
                c.key(),
                c.key() == selected || (selected.is_empty() && *c == Channel::Email),
            )
        })
        .collect()
}

pub async fn preview_page(State(state): State<AppState>, user: CurrentUser, Query(q): Query<WeekQuery>) -> PageResult {
    let choices = choices(&state, &user, Some(&q.engagement)).await?;
    Ok(render(
        StatusCode::OK,
        &PreviewPage {
            layout: Layout::new("Preview a message", "preview", Some(&user)),
            choices,
            channels: channels("email"),
            form: PreviewForm {
                message: "Hello, could we move Thursday's session?".into(),
                ..Default::default()
            },
            outcome: None,
            recorded: false,
        },
    ))
}

pub async fn preview(State(state): State<AppState>, user: CurrentUser, body: Bytes) -> PageResult {
    let form: PreviewForm = read_form(&user, &body)?;
    let choices = choices(&state, &user, Some(&form.engagement)).await?;
    let mut page = PreviewPage {
        layout: Layout::new("Preview a message", "preview", Some(&user)),
        channels: channels(&form.channel),
        choices,
        form,
        outcome: None,
        recorded: false,
    };
    let result = async {
        let engagement: EngagementId = page
            .form
            .engagement
            .parse()
            .map_err(|_| endwell_core::DomainError::invalid("engagement", "choose an engagement"))?;
        let channel: Channel = page.form.channel.parse()?;
        let at = match page.form.at.trim() {
            "" => None,
            t => Some(t.parse::<Timestamp>().map_err(|_| {
                endwell_core::DomainError::invalid("at", format!("{t:?} is not a time like 2026-11-30T20:00:00Z"))
            })?),
        };
        if page.form.message.trim().is_empty() {
            return Err(endwell_core::DomainError::invalid("message", "write the message to try").into());
        }
        let mut message = Message::parse(page.form.message.replace("\r\n", "\n").as_bytes());
        if message.from.is_none() && !page.form.from.trim().is_empty() {
            message = Message::plain(Some(page.form.from.trim()), &message.body);
        }
        let incoming = Incoming {
            engagement,
            channel,
            message,
            at,
        };
        if page.form.record == "yes" {
            receive(&state, &user.user, incoming).await.map(|(_, ev)| (ev, true))
        } else {
            evaluate(&state, &user.user, &incoming).await.map(|ev| (ev, false))
        }
    }
    .await;
    match result {
        Ok((ev, recorded)) => {
            let tz = user.user.timezone.clone();
            let d = &ev.decision;
            page.recorded = recorded;
            page.outcome = Some(Outcome {
                action: d.action.key(),
                action_label: action_label(d.action),
                reasons: d.reasons.clone(),
                labels: ev
                    .labels
                    .iter()
                    .map(|f| {
                        if f.evidence.is_empty() {
                            f.label.key().to_string()
                        } else {
                            format!("{} (\"{}\")", f.label.key(), f.evidence.join("\", \""))
                        }
                    })
                    .collect(),
                release: d.release_at.map(|t| fmt_time(t, &tz)).unwrap_or_default(),
                reply_to: d.reply.as_ref().and_then(|r| r.to.clone()).unwrap_or_default(),
                reply_subject: d.reply.as_ref().and_then(|r| r.subject.clone()).unwrap_or_default(),
                reply_body: d.reply.as_ref().map(|r| r.body.clone()),
            });
            Ok(render(StatusCode::OK, &page))
        }
        Err(e) if super::is_validation(&e) => {
            page.layout.error = Some(super::message_of(&e));
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(super::PageError::new(Some(user), e)),
    }
}
