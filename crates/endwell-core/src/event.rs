//! The append-only event log. Every change is an event with who, when and
//! what; each event's hash covers the previous one's, so an edited or deleted
//! row breaks the chain and `verify_chain` says where.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::DomainError;
use crate::ids::{ClientId, EngagementId, EventId, UserId};
use crate::lifecycle::{EngagementState, Transition};
use crate::model::{Agreement, Client, Consent, Engagement, User};

/// Who caused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    User(UserId),
    /// Endwell itself: scheduled work, imports, set-up.
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::System => f.write_str("system"),
        }
    }
}

impl FromStr for Actor {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "system" {
            return Ok(Actor::System);
        }
        s.strip_prefix("user:")
            .and_then(|id| id.parse().ok())
            .map(Actor::User)
            .ok_or_else(|| DomainError::invalid("actor", format!("{s:?} is not an actor")))
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What happened. Stable strings: they are stored and exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "client.created")]
    ClientCreated,
    #[serde(rename = "client.updated")]
    ClientUpdated,
    #[serde(rename = "engagement.created")]
    EngagementCreated,
    #[serde(rename = "engagement.updated")]
    EngagementUpdated,
    #[serde(rename = "engagement.transitioned")]
    EngagementTransitioned,
    #[serde(rename = "agreement.versioned")]
    AgreementVersioned,
    #[serde(rename = "agreement.consented")]
    AgreementConsented,
    #[serde(rename = "boundary.incident_recorded")]
    BoundaryIncidentRecorded,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::UserCreated,
        EventKind::ClientCreated,
        EventKind::ClientUpdated,
        EventKind::EngagementCreated,
        EventKind::EngagementUpdated,
        EventKind::EngagementTransitioned,
        EventKind::AgreementVersioned,
        EventKind::AgreementConsented,
        EventKind::BoundaryIncidentRecorded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::UserCreated => "user.created",
            EventKind::ClientCreated => "client.created",
            EventKind::ClientUpdated => "client.updated",
            EventKind::EngagementCreated => "engagement.created",
            EventKind::EngagementUpdated => "engagement.updated",
            EventKind::EngagementTransitioned => "engagement.transitioned",
            EventKind::AgreementVersioned => "agreement.versioned",
            EventKind::AgreementConsented => "agreement.consented",
            EventKind::BoundaryIncidentRecorded => "boundary.incident_recorded",
        }
    }

    /// How a history page says it.
    pub fn describe(self) -> &'static str {
        match self {
            EventKind::UserCreated => "Account created",
            EventKind::ClientCreated => "Client added",
            EventKind::ClientUpdated => "Client details changed",
            EventKind::EngagementCreated => "Engagement opened",
            EventKind::EngagementUpdated => "Engagement details changed",
            EventKind::EngagementTransitioned => "Lifecycle step",
            EventKind::AgreementVersioned => "New agreement version",
            EventKind::AgreementConsented => "Consent recorded",
            EventKind::BoundaryIncidentRecorded => "Boundary incident recorded",
        }
    }
}

impl FromStr for EventKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DomainError::invalid("kind", format!("{s:?} is not an event kind")))
    }
}

/// An event before it is placed in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub actor: Actor,
    pub kind: EventKind,
    pub client_id: Option<ClientId>,
    pub engagement_id: Option<EngagementId>,
    /// What changed. Never holds secrets; may hold client data, which the log keeps.
    pub data: serde_json::Value,
}

/// One constructor per kind: the shape of each kind's `data` is decided
/// here, beside [`Event::detail`] which reads it back.
impl NewEvent {
    pub fn user_created(user: &User) -> NewEvent {
        NewEvent {
            actor: Actor::System,
            kind: EventKind::UserCreated,
            client_id: None,
            engagement_id: None,
            data: serde_json::json!({"user_id": user.id, "email": user.email, "role": user.role}),
        }
    }

    pub fn client_created(actor: UserId, client: &Client) -> NewEvent {
        NewEvent {
            actor: Actor::User(actor),
            kind: EventKind::ClientCreated,
            client_id: Some(client.id),
            engagement_id: None,
            data: serde_json::json!({"name": client.display_name()}),
        }
    }

    /// `changed` names fields only (see [`Client::changed_fields`]).
    pub fn client_updated(actor: UserId, client: ClientId, changed: &[&str]) -> NewEvent {
        NewEvent {
            actor: Actor::User(actor),
            kind: EventKind::ClientUpdated,
            client_id: Some(client),
            engagement_id: None,
            data: serde_json::json!({"changed": changed}),
        }
    }

    pub fn engagement_created(actor: UserId, e: &Engagement) -> NewEvent {
        NewEvent {
            actor: Actor::User(actor),
            kind: EventKind::EngagementCreated,
            client_id: Some(e.client_id),
            engagement_id: Some(e.id),
            data: serde_json::json!({"title": e.title, "state": e.state}),
        }
    }

    pub fn engagement_updated(actor: UserId, e: &Engagement) -> NewEvent {
        NewEvent {
            actor: Actor::User(actor),
            kind: EventKind::EngagementUpdated,
            client_id: Some(e.client_id),
            engagement_id: Some(e.id),
            data: serde_json::json!({
                "title": e.title,
                "started_on": e.started_on,
                "planned_end": e.planned_end,
                "next_review": e.next_review,
            }),
        }
    }

    /// `e` as it was before the step.
    pub fn engagement_transitioned(
        actor: UserId,
        e: &Engagement,
        transition: Transition,
        to: EngagementState,
        note: &str,
    ) -> NewEvent {
        NewEvent {
            actor: Actor::User(actor),
            kind: EventKind::EngagementTransitioned,
            client_id: Some(e.client_id),
            engagement_id: Some(e.id),
            data: serde_json::json!({"transition": transition, "from": e.state, "to": to, "note": note}),
        }
    }

    pub fn agreement_versioned(actor: UserId, client: ClientId, a: &Agreement) -> NewEvent {
        NewEvent {
            actor: Actor::User(actor),
            kind: EventKind::AgreementVersioned,
            client_id: Some(client),
            engagement_id: Some(a.engagement_id),
            data: serde_json::json!({"version": a.version, "note": a.note}),
        }
    }

    pub fn agreement_consented(
        actor: UserId,
        client: ClientId,
        engagement: EngagementId,
        version: i64,
        consent: &Consent,
    ) -> NewEvent {
        NewEvent {
            actor: Actor::User(actor),
            kind: EventKind::AgreementConsented,
            client_id: Some(client),
            engagement_id: Some(engagement),
            data: serde_json::json!({"version": version, "given_by": consent.given_by, "method": consent.method}),
        }
    }

    /// What happened stays sealed with the incident; the chain records
    /// that one was logged, in which category, by whom.
    pub fn boundary_incident_recorded(
        actor: UserId,
        client: ClientId,
        engagement: EngagementId,
        incident: uuid::Uuid,
        category: crate::boundary::Category,
        initiated_by: crate::boundary::InitiatedBy,
    ) -> NewEvent {
        NewEvent {
            actor: Actor::User(actor),
            kind: EventKind::BoundaryIncidentRecorded,
            client_id: Some(client),
            engagement_id: Some(engagement),
            data: serde_json::json!({"incident": incident.to_string(), "category": category.key(), "initiated_by": initiated_by.key()}),
        }
    }
}

/// An event in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    /// 1, 2, 3…: position in the chain.
    pub seq: i64,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: EventKind,
    pub client_id: Option<ClientId>,
    pub engagement_id: Option<EngagementId>,
    pub data: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl Event {
    /// What happened, in words, beside [`EventKind::describe`]: "from
    /// proposed to active: “First session booked”", "version 2: Fee updated".
    pub fn detail(&self) -> String {
        let d = &self.data;
        let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let n = |k: &str| {
            d.get(k)
                .and_then(|v| v.as_i64())
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        match self.kind {
            EventKind::EngagementTransitioned => {
                let base = format!("from {} to {}", s("from"), s("to"));
                match s("note") {
                    note if note.is_empty() => base,
                    note => format!("{base}: “{note}”"),
                }
            }
            EventKind::AgreementVersioned => format!("version {}: {}", n("version"), s("note")),
            EventKind::AgreementConsented => {
                format!(
                    "version {} by {} ({})",
                    n("version"),
                    s("given_by"),
                    s("method").replace('_', " ")
                )
            }
            EventKind::EngagementCreated => format!("“{}”", s("title")),
            EventKind::BoundaryIncidentRecorded => {
                format!(
                    "{}, started by the {}",
                    s("category").replace('_', " "),
                    s("initiated_by")
                )
            }
            EventKind::ClientUpdated => d
                .get("changed")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .map(|x| x.replace('_', " "))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
                .join(", "),
            EventKind::UserCreated | EventKind::ClientCreated | EventKind::EngagementUpdated => String::new(),
        }
    }
}

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl NewEvent {
    /// Place the event after `prev` (seq and hash), stamped `at`.
    pub fn seal(self, prev: Option<(i64, &str)>, at: Timestamp) -> Event {
        let (seq, prev_hash) = match prev {
            Some((seq, hash)) => (seq + 1, hash.to_string()),
            None => (1, GENESIS.to_string()),
        };
        let mut e = Event {
            id: EventId::new(),
            seq,
            at,
            actor: self.actor,
            kind: self.kind,
            client_id: self.client_id,
            engagement_id: self.engagement_id,
            data: self.data,
            prev_hash,
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }
}

impl Event {
    /// SHA-256 over the previous hash and every field, in a fixed layout.
    /// JSON objects serialize with sorted keys, so the layout is stable.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let opt = |v: Option<String>| v.unwrap_or_default();
        for part in [
            self.prev_hash.clone(),
            self.seq.to_string(),
            self.id.to_string(),
            self.at.as_microsecond().to_string(),
            self.actor.to_string(),
            self.kind.as_str().to_string(),
            opt(self.client_id.map(|c| c.to_string())),
            opt(self.engagement_id.map(|c| c.to_string())),
            self.data.to_string(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// Where a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("event {seq} does not follow event {prev} (a gap or reordering)")]
    Gap { prev: i64, seq: i64 },
    #[error("event {seq}'s link to the previous event is broken")]
    Link { seq: i64 },
    #[error("event {seq} was changed after it was recorded")]
    Tampered { seq: i64 },
}

/// Check a run of events in seq order, starting after `prev` (None = from the start).
pub fn verify_chain<'a>(
    prev: Option<(i64, &str)>,
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<(), ChainError> {
    let (mut last_seq, mut last_hash) = match prev {
        Some((s, h)) => (s, h.to_string()),
        None => (0, GENESIS.to_string()),
    };
    for e in events {
        if e.seq != last_seq + 1 {
            return Err(ChainError::Gap {
                prev: last_seq,
                seq: e.seq,
            });
        }
        if e.prev_hash != last_hash {
            return Err(ChainError::Link { seq: e.seq });
        }
        if e.compute_hash() != e.hash {
            return Err(ChainError::Tampered { seq: e.seq });
        }
        last_seq = e.seq;
        last_hash = e.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: u8) -> NewEvent {
        NewEvent {
            actor: Actor::System,
            kind: EventKind::ClientCreated,
            client_id: Some(ClientId::new()),
            engagement_id: None,
            data: serde_json::json!({"n": n, "b": "x", "a": [1, 2]}),
        }
    }

    fn chain(n: u8) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|e| (e.seq, e.hash.clone()));
            let e = ev(i).seal(prev.as_ref().map(|(s, h)| (*s, h.as_str())), Timestamp::UNIX_EPOCH);
            out.push(e);
        }
        out
    }

    #[test]
    fn a_sealed_chain_verifies() {
        let c = chain(5);
        assert_eq!(c[0].seq, 1);
        assert_eq!(c[0].prev_hash, GENESIS);
        verify_chain(None, &c).unwrap();
        verify_chain(Some((c[1].seq, &c[1].hash)), &c[2..]).unwrap();
    }

    #[test]
    fn tampering_and_gaps_are_found() {
        let mut c = chain(4);
        c[2].data = serde_json::json!({"n": 99});
        assert_eq!(verify_chain(None, &c), Err(ChainError::Tampered { seq: 3 }));
        let mut c = chain(4);
        c.remove(1);
        assert_eq!(verify_chain(None, &c), Err(ChainError::Gap { prev: 1, seq: 3 }));
    }

    #[test]
    fn each_kind_reads_back_in_words() {
        use crate::model::{ClientFields, ConsentMethod, Role};
        let me = UserId::new();
        let at = Timestamp::UNIX_EPOCH;
        let f = ClientFields {
            given_name: "Ada".into(),
            vulnerability_notes: "private".into(),
            ..Default::default()
        };
        let client = Client {
            id: ClientId::new(),
            practitioner_id: me,
            given_name: f.given_name,
            family_name: "Okafor".into(),
            preferred_name: String::new(),
            emails: vec![],
            phones: vec![],
            vulnerability_notes: f.vulnerability_notes,
            created_at: at,
            updated_at: at,
        };
        let changed = Client {
            vulnerability_notes: "other".into(),
            preferred_name: "Addy".into(),
            ..client.clone()
        };
        let fields = changed.changed_fields(&client);
        assert_eq!(fields, ["preferred_name", "vulnerability_notes"]);
        let ev = NewEvent::client_updated(me, client.id, &fields).seal(None, at);
        assert_eq!(ev.detail(), "preferred name, vulnerability notes");
        assert!(!ev.data.to_string().contains("other"), "values stay out of the log");

        let e = Engagement {
            id: EngagementId::new(),
            client_id: client.id,
            practitioner_id: me,
            state: EngagementState::Proposed,
            title: "CBT".into(),
            started_on: None,
            planned_end: None,
            next_review: None,
            created_at: at,
            updated_at: at,
        };
        let detail = |n: NewEvent| n.seal(None, at).detail();
        assert_eq!(detail(NewEvent::engagement_created(me, &e)), "“CBT”");
        assert_eq!(
            detail(NewEvent::engagement_transitioned(
                me,
                &e,
                Transition::Activate,
                EngagementState::Active,
                "Go"
            )),
            "from proposed to active: “Go”"
        );
        assert_eq!(
            detail(NewEvent::engagement_transitioned(
                me,
                &e,
                Transition::Withdraw,
                EngagementState::Ended,
                ""
            )),
            "from proposed to ended"
        );
        let consent = Consent {
            given_by: "Ada".into(),
            at,
            method: ConsentMethod::InPerson,
            recorded_by: me,
        };
        assert_eq!(
            detail(NewEvent::agreement_consented(me, client.id, e.id, 2, &consent)),
            "version 2 by Ada (in person)"
        );
        let user = User {
            id: me,
            email: "sam@x.example".into(),
            display_name: "Sam".into(),
            role: Role::Practitioner,
            profession: String::new(),
            timezone: "UTC".into(),
            supervisor_id: None,
            created_at: at,
        };
        assert_eq!(NewEvent::user_created(&user).actor, Actor::System);
    }

    #[test]
    fn hash_survives_a_json_round_trip() {
        let c = chain(2);
        let back: Vec<Event> = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        verify_chain(None, &back).unwrap();
        assert_eq!(
            "user:0195f3a2-7c1e-7000-8000-000000000000"
                .parse::<Actor>()
                .unwrap()
                .to_string(),
            "user:0195f3a2-7c1e-7000-8000-000000000000"
        );
    }
}
