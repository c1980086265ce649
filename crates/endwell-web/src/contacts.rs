//! Receiving a contact: the one path the API, the pages and (later) the mail
//! and SMS channels share. It finds the terms in force, asks the core's
//! policy for a decision and records contact and decision together.
//!
//! Policies are compiled once per engagement and kept while the terms are
//! unchanged and the compilation still covers the instant asked about;
//! the terms themselves are cached by the store per agreement version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use endwell_core::decision::{Action, Contact, Decision, Policy};
use endwell_core::message::Message;
use endwell_core::model::{Engagement, User};
use endwell_core::terms::{Channel, Terms};
use endwell_core::triage::{Classifier, Finding};
use endwell_core::{EngagementId, UserId, access::Viewer};
use endwell_store::contacts::{ContactEntry, NewContact};
use jiff::{SignedDuration, Timestamp};

use crate::AppState;
use crate::error::AppError;

/// A policy and the terms it was compiled from.
type Compiled = (Arc<Terms>, Arc<Policy>);

/// Compiled policies by engagement.
#[derive(Default)]
pub struct PolicyCache {
    inner: Mutex<HashMap<EngagementId, Compiled>>,
}

impl PolicyCache {
    /// A policy for these terms that answers questions about `at`.
    ///
    /// The terms a policy was compiled from are kept beside it: the same
    /// `Arc` (the store hands out one per agreement version while it is
    /// cached) is recognised without comparing, other terms are compared
    /// in full. So terms built per request (e.g. with more closures merged
    /// in) are still right, only slower; keep them fast by caching the
    /// merged `Arc` keyed by what it was merged from.
    pub fn get(&self, engagement: EngagementId, terms: &Arc<Terms>, at: Timestamp) -> Arc<Policy> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, p)) = map.get(&engagement)
            && p.covers(at)
            && (Arc::ptr_eq(t, terms) || **t == **terms)
        {
            return p.clone();
        }
        // Two years either side of now: long enough to be reused for months.
        let span = SignedDuration::from_hours(24 * 366 * 2);
        let p = Arc::new(Policy::compile(terms, at - span, at + span));
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(engagement, (terms.clone(), p.clone()));
        p
    }
}

/// One contact at a time per practitioner and sender, from reading when the
/// sender was last answered to storing the contact, so that two messages
/// arriving together cannot both be sent an automatic reply. This holds
/// within one instance; instances sharing PostgreSQL can still race.
#[derive(Default)]
pub struct SenderLocks(Mutex<HashMap<(UserId, String), Weak<SenderLock>>>);

type SenderLock = tokio::sync::Mutex<()>;

impl SenderLocks {
    fn get(&self, practitioner: UserId, sender: &str) -> Arc<SenderLock> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let key = (practitioner, sender.trim().to_lowercase());
        if let Some(lock) = map.get(&key).and_then(Weak::upgrade) {
            return lock;
        }
        if map.len() >= 10_000 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let lock = Arc::new(SenderLock::new(()));
        map.insert(key, Arc::downgrade(&lock));
        lock
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

/// The engagement and the terms to decide by: those in force, or starter
/// terms in the practitioner's zone before any were written (so nothing is
/// lost); with when `sender` last got an automatic reply. One read.
async fn terms_for(
    state: &AppState,
    viewer: Viewer,
    user: &User,
    id: EngagementId,
    sender: &str,
) -> Result<(Engagement, Arc<Terms>, Option<Timestamp>), AppError> {
    let inputs = state.store.decision_inputs(viewer, id, sender).await?;
    let terms = match inputs.terms {
        Some(t) => t,
        None => {
            let starter = Terms::starter(user.zone(), &user.display_name);
            // Rare (no terms written yet), so the calendars are read each time.
            Arc::new(
                state
                    .store
                    .with_closures(inputs.engagement.practitioner_id, &starter)
                    .await?,
            )
        }
    };
    Ok((inputs.engagement, terms, inputs.last_reply))
}

pub async fn evaluate(state: &AppState, user: &User, incoming: &Incoming) -> Result<Evaluation, AppError> {
    let m = &incoming.message;
    let sender = m.sender_address().unwrap_or("unknown sender").to_string();
    let (engagement, terms, last_reply) =
        terms_for(state, Viewer::of(user), user, incoming.engagement, &sender).await?;
    if engagement.practitioner_id != user.id {
        // Supervisors read caseloads but do not receive their supervisees' messages.
        return Err(endwell_store::StoreError::Forbidden.into());
    }
    let at = incoming.at.unwrap_or_else(Timestamp::now);
    let labels = state.classifier.classify_message(m);
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
    let sender = incoming.message.sender_address().unwrap_or("unknown sender");
    let lock = state.senders.get(user.id, sender);
    let _one_at_a_time = lock.lock().await;
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
