//! Data for benchmarks: one practitioner with many engagements and a long
//! history, built as an export and loaded with `Store::import` (one
//! transaction), so seeding 200,000 events takes seconds, not minutes.

use endwell_core::event::{Actor, Event, EventKind, NewEvent};
use endwell_core::model::{Client, Engagement, Role, User};
use endwell_core::{ClientId, EngagementId, EngagementState, UserId};
use endwell_store::{EXPORT_FORMAT, Export, ExportedUser};
use jiff::{Timestamp, ToSpan};

/// `engagements` engagements (60% active, the rest spread over the other
/// states) and `events` events spread across them, for bench@clinic.example.
pub fn data(engagements: usize, events: usize, password_hash: &str) -> anyhow::Result<Export> {
    let start = Timestamp::from_second(1_767_225_600)?; // 2026-01-01
    let user = User {
        id: UserId::new(),
        email: "bench@clinic.example".into(),
        display_name: "Bench Practitioner".into(),
        role: Role::Practitioner,
        profession: "Counsellor".into(),
        timezone: "Europe/London".into(),
        supervisor_id: None,
        created_at: start,
    };
    let mut clients = Vec::with_capacity(engagements);
    let mut list = Vec::with_capacity(engagements);
    for i in 0..engagements {
        let at = start.checked_add((i as i64).seconds())?;
        let client = Client {
            id: ClientId::new(),
            practitioner_id: user.id,
            given_name: format!("Client{i}"),
            family_name: "Example".into(),
            preferred_name: String::new(),
            emails: vec![format!("client{i}@example.org")],
            phones: Vec::new(),
            vulnerability_notes: String::new(),
            created_at: at,
            updated_at: at,
        };
        let state = match i % 20 {
            0..=11 => EngagementState::Active,
            12 | 13 => EngagementState::Proposed,
            14 | 15 => EngagementState::Ending,
            16..=18 => EngagementState::Ended,
            _ => EngagementState::Transferred,
        };
        let day = jiff::civil::date(2026, 1, 1).checked_add(((i % 300) as i64).days())?;
        list.push(Engagement {
            id: EngagementId::new(),
            client_id: client.id,
            practitioner_id: user.id,
            state,
            title: format!("Counselling {i}"),
            started_on: Some(day),
            planned_end: Some(day.checked_add(180.days())?),
            next_review: Some(day.checked_add(42.days())?),
            created_at: at,
            updated_at: at,
        });
        clients.push(client);
    }
    let mut chain: Vec<Event> = Vec::with_capacity(events);
    for n in 0..events {
        let e = &list[n % list.len().max(1)];
        let prev = chain.last().map(|p| (p.seq, p.hash.as_str()));
        let ev = NewEvent {
            actor: Actor::User(user.id),
            kind: EventKind::EngagementUpdated,
            client_id: Some(e.client_id),
            engagement_id: Some(e.id),
            data: serde_json::json!({"title": e.title, "n": n}),
        }
        .seal(prev, start.checked_add((n as i64).seconds())?);
        chain.push(ev);
    }
    Ok(Export {
        format: EXPORT_FORMAT.into(),
        version: 1,
        users: vec![ExportedUser {
            user,
            password_hash: Some(password_hash.into()),
        }],
        clients,
        engagements: list,
        agreements: Vec::new(),
        events: chain,
        office: Default::default(),
    })
}
