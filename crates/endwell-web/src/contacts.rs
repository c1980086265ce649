//! Receiving a contact: the one path the API, the pages and (later) the mail
//! and SMS channels share. It finds the terms in force, asks the core's
//! policy for a decision and records contact and decision together.
//!
//! Policies are compiled once per engagement and kept while the terms are
//! unchanged and the compilation still covers the instant asked about.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use endwell_core::decision::{Action, Contact, Decision, Policy};
use endwell_core::message::Message;
use endwell_core::model::{Engagement, User};
use endwell_core::terms::{Channel, Terms};
use endwell_core::triage::{Classifier, Finding, StubClassifier};
use endwell_core::{EngagementId, access::Viewer};
use endwell_store::contacts::{ContactEntry, NewContact};
use jiff::{SignedDuration, Timestamp};

use crate::AppState;
use crate::error::AppError;

/// Compiled policies by engagement.
#[derive(Default)]
pub struct PolicyCache {
    inner: Mutex<HashMap<EngagementId, Arc<Policy>>>,
}

impl PolicyCache {
    /// A policy for these terms that answers questions about `at`.
    pub fn get(&self, engagement: EngagementId, terms: &Terms, at: Timestamp) -> Arc<Policy> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = map.get(&engagement)
            && p.covers(at)
            && p.terms() == terms
        {
            return p.clone();
        }
        // Two years either side of now: long enough to be reused for months.
        let span = SignedDuration::from_hours(24 * 366 * 2);
        let p = Arc::new(Policy::compile(terms, at - span, at + span));
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(engagement, p.clone());
        p
    }
}

/// A message arriving for an engagement.
pub struct Incoming {
    pub engagement: EngagementId,
    pub channel: Channel,
    pub message: Message,
    /// When it arrived; now when not given.
    pub at: Option<Timestamp>,
}

/// What would happen to a message, without recording it.
pub struct Evaluation {
    pub engagement: Engagement,
    pub labels: Vec<Finding>,
    pub decision: Decision,
    pub at: Timestamp,
    pub sender: String,
}

/// The terms to decide by: those in force, or starter terms in the
/// practitioner's zone before any were written (so nothing is lost).
async fn terms_for(
    state: &AppState,
    viewer: Viewer,
    user: &User,
    id: EngagementId,
) -> Result<(Engagement, Terms), AppError> {
    let (e, terms) = state.store.terms_in_force(viewer, id).await?;
    let terms = match terms {
        Some(t) => t,
        None => {
            let zone = user
                .timezone
                .parse()
                .or_else(|_| "UTC".parse())
                .map_err(AppError::Domain)?;
            let starter = Terms::starter(zone, &user.display_name);
            state.store.with_closures(e.practitioner_id, &starter).await?
        }
    };
    Ok((e, terms))
}

pub async fn evaluate(state: &AppState, user: &User, incoming: &Incoming) -> Result<Evaluation, AppError> {
    let (engagement, terms) = terms_for(state, Viewer::of(user), user, incoming.engagement).await?;
    if engagement.practitioner_id != user.id {
        // Supervisors read caseloads but do not receive their supervisees' messages.
        return Err(endwell_store::StoreError::Forbidden.into());
    }
    let at = incoming.at.unwrap_or_else(Timestamp::now);
    let m = &incoming.message;
    let sender = m.sender_address().unwrap_or("unknown sender").to_string();
    let last_reply = state.store.last_reply(user.id, &sender).await?;
    let labels = StubClassifier.classify(&m.body);
    let policy = state.policies.get(incoming.engagement, &terms, at);
    let decision = policy.decide(&Contact {
        channel: incoming.channel,
        state: engagement.state,
        message: m,
        labels: &labels,
        at,
        last_reply,
    });
    Ok(Evaluation {
        engagement,
        labels,
        decision,
        at,
        sender,
    })
}

/// The contact to record for an evaluated message.
pub fn new_contact(user: &User, incoming: &Incoming, ev: &Evaluation) -> NewContact {
    NewContact {
        practitioner_id: user.id,
        engagement_id: Some(ev.engagement.id),
        channel: incoming.channel,
        sender: ev.sender.clone(),
        subject: incoming.message.subject.clone(),
        body: incoming.message.body.clone(),
        received_at: ev.at,
        labels: ev.labels.clone(),
        decision: ev.decision.clone(),
    }
}

/// Decide and record. A contact for a transferred engagement goes to the
/// inbox of the practitioner who took the work on; when the transfer names
/// nobody in this Endwell it stays with the former practitioner to pass on,
/// so it is never lost.
pub async fn receive(
    state: &AppState,
    user: &User,
    incoming: Incoming,
) -> Result<(ContactEntry, Evaluation), AppError> {
    let mut ev = evaluate(state, user, &incoming).await?;
    let viewer = Viewer::of(user);
    if ev.decision.action == Action::Forward {
        match state.store.receiving_worker(viewer, ev.engagement.id).await? {
            Some(to) => {
                ev.decision
                    .reasons
                    .push(format!("forwarded to {} from {}", to.display_name, user.display_name));
                let mut c = new_contact(user, &incoming, &ev);
                c.practitioner_id = to.id;
                // The engagement stays the former practitioner's; the
                // receiver sees the message, not the old case.
                c.engagement_id = None;
                let entry = state.store.record_forwarded(viewer, ev.engagement.id, c).await?;
                return Ok((entry, ev));
            }
            None => ev
                .decision
                .reasons
                .push("the transfer names no practitioner in Endwell, so it stays here for you to pass on".into()),
        }
    }
    let entry = state
        .store
        .record_contact(viewer, new_contact(user, &incoming, &ev))
        .await?;
    Ok((entry, ev))
}
