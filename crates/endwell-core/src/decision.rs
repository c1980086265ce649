//! What happens to a client's message: the contact decision.
//!
//! Given an agreement's terms (compiled once into a [`Policy`]), the
//! engagement's state, the message, its triage labels and the time, decide
//! one [`Action`] with reasons a person can read. The rules, in order:
//!
//! 1. Mail from the practitioner's own addresses is not a client contact: `ignore`.
//! 2. A crisis label is never held: `crisis`, delivered now with an alert,
//!    and the crisis reply to the sender when the sender can be answered.
//! 3. An ended engagement: `ended`, with the ending reply (not delivered to
//!    the former worker). A transferred one: `forward` to the current worker.
//! 4. Mail not written by a person (lists, bulk, automatic, null sender,
//!    system senders) is listed but never answered: `ignore`.
//! 5. Within office hours: `deliver`.
//! 6. Outside: `hold` until the next open spell, and `auto_reply` when the
//!    terms enable it, the message was addressed to the practitioner, and
//!    this sender has not had a reply this closed spell (or in N days).
//!
//! No automatic reply is ever sent to a sender who cannot be answered
//! (RFC 3834 §2): that is checked once, in [`Policy::unanswerable`].

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::availability::Availability;
use crate::compose::{Placeholder, Templates, crisis_lines, practitioner_name};
use crate::lifecycle::EngagementState;
use crate::message::{Message, ReturnPath};
use crate::terms::{Channel, OncePer, Terms};
use crate::triage::{Finding, is_crisis};

/// RFC 3834's recommended minimum between two replies to one sender, used for ending replies.
const ENDING_REPLY_EVERY: SignedDuration = SignedDuration::from_hours(7 * 24);

/// Most `Received` headers a message may carry before it looks like a loop.
const MAX_RECEIVED: usize = 25;

/// The decision's verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Deliver,
    Hold,
    AutoReply,
    Crisis,
    Ended,
    Forward,
    Ignore,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Deliver,
        Action::Hold,
        Action::AutoReply,
        Action::Crisis,
        Action::Ended,
        Action::Forward,
        Action::Ignore,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Action::Deliver => "deliver",
            Action::Hold => "hold",
            Action::AutoReply => "auto_reply",
            Action::Crisis => "crisis",
            Action::Ended => "ended",
            Action::Forward => "forward",
            Action::Ignore => "ignore",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.key() == s)
    }

    /// Whether the message waits for the next open spell.
    pub fn is_held(self) -> bool {
        matches!(self, Action::Hold | Action::AutoReply)
    }
}

/// An automatic reply to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The address to send to; `None` when the input did not name a sender.
    pub to: Option<String>,
    /// Email only.
    pub subject: Option<String>,
    /// Header fields to add (email only); `Date` and `Message-ID` are added when sent.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// A decision and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub action: Action,
    /// When a held message will be released (the next open spell's start).
    pub release_at: Option<Timestamp>,
    pub reasons: Vec<String>,
    pub reply: Option<Reply>,
    /// Whether the practitioner is in an on-call window for this channel now.
    pub on_call: bool,
}

/// What a decision is about.
#[derive(Debug, Clone, Copy)]
pub struct Contact<'a> {
    pub channel: Channel,
    pub state: EngagementState,
    pub message: &'a Message,
    pub labels: &'a [Finding],
    pub at: Timestamp,
    /// When this sender was last sent an automatic reply.
    pub last_reply: Option<Timestamp>,
}

/// One agreement's terms compiled for deciding: availability spells,
/// lower-cased own addresses and parsed templates, so a decision does not
/// allocate per range or re-read the terms.
#[derive(Debug, Clone)]
pub struct Policy {
    terms: Terms,
    availability: Availability,
    own: Vec<String>,
    templates: Templates,
    crisis: String,
}

impl Policy {
    /// Compile for questions about `at` (a year either side).
    pub fn around(terms: &Terms, at: Timestamp) -> Policy {
        Policy::with(terms, Availability::around(terms, at))
    }

    /// Compile for a window, e.g. a server's cache per agreement.
    pub fn compile(terms: &Terms, from: Timestamp, until: Timestamp) -> Policy {
        Policy::with(terms, Availability::compile(terms, from, until))
    }

    fn with(terms: &Terms, availability: Availability) -> Policy {
        Policy {
            terms: terms.clone(),
            availability,
            own: terms
                .practitioner
                .addresses
                .iter()
                .map(|a| a.trim().to_ascii_lowercase())
                .collect(),
            // Terms are checked when read, so their templates parse; fall back to defaults regardless.
            templates: Templates::from_terms(terms).unwrap_or_else(|_| {
                Templates::from_terms(&Terms::starter(terms.timezone.clone(), "")).expect("default templates parse")
            }),
            crisis: crisis_lines(terms),
        }
    }

    pub fn terms(&self) -> &Terms {
        &self.terms
    }

    pub fn availability(&self) -> &Availability {
        &self.availability
    }

    /// Whether this compilation can answer questions about `at`.
    pub fn covers(&self, at: Timestamp) -> bool {
        self.availability.covers(at)
    }

    /// Whether `address` is one of the practitioner's own.
    pub fn is_own(&self, address: &str) -> bool {
        self.own.iter().any(|o| o.eq_ignore_ascii_case(address.trim()))
    }

    /// Why a message must not get an automatic reply, if it must not.
    /// Covers RFC 3834 §2 and RFC 5230 §4.6 as Pigeonhole applies them.
    pub fn unanswerable(&self, m: &Message) -> Option<String> {
        if let Some(reason) = not_a_person(m) {
            return Some(reason);
        }
        if m.reply_address().is_none() && m.is_mail {
            return Some("the message has no address to reply to".into());
        }
        if m.is_mail && !m.recipients.iter().any(|r| self.own.iter().any(|o| o == r)) {
            return Some(if self.own.is_empty() {
                "no practitioner addresses are set in the terms, so mail cannot be checked as addressed to you; no automatic reply".into()
            } else {
                "the message was not addressed to you directly (To, Cc or Bcc), so it gets no automatic reply".into()
            });
        }
        None
    }

    /// Decide what happens to one contact.
    pub fn decide(&self, c: &Contact) -> Decision {
        let m = c.message;
        let mut reasons = Vec::new();
        let on_call = self.availability.on_call_at(c.at, c.channel).is_some();

        if let Some(sender) = m.sender_address()
            && self.is_own(sender)
        {
            reasons.push(format!("sent from your own address {sender}; not a client contact"));
            return decision(Action::Ignore, None, reasons, None, on_call);
        }

        if is_crisis(c.labels) {
            reasons.push(format!(
                "may be a crisis ({}): never held, delivered now and an alert raised",
                evidence(c.labels)
            ));
            match c.state {
                EngagementState::Ended => reasons.push("the engagement has ended; the alert still goes out".into()),
                EngagementState::Transferred => {
                    reasons.push("the engagement was transferred; the alert goes to the current worker".into())
                }
                _ => {}
            }
            if on_call {
                reasons.push(format!("you are on call for {} now", c.channel.key()));
            } else if !self.availability.is_open(c.at) {
                reasons.push("outside office hours and not on call: the reply gives the crisis resources".into());
            }
            let reply = match self.unanswerable(m) {
                Some(why) => {
                    reasons.push(format!("no crisis reply: {why}"));
                    None
                }
                None => Some(self.reply(c, self.templates.crisis.render(|p| self.fill(p, c)), "crisis")),
            };
            return decision(Action::Crisis, None, reasons, reply, on_call);
        }

        match c.state {
            EngagementState::Ended => {
                reasons.push("the engagement has ended: not passed to the former worker".into());
                if let Some(why) = not_a_person(m) {
                    reasons.push(why);
                    return decision(Action::Ignore, None, reasons, None, on_call);
                }
                let reply = match (self.unanswerable(m), c.last_reply) {
                    (Some(why), _) => {
                        reasons.push(format!("no ending reply: {why}"));
                        None
                    }
                    (None, Some(last)) if c.at.duration_since(last) < ENDING_REPLY_EVERY => {
                        reasons.push(format!(
                            "an ending reply went to this sender on {}; not repeated within 7 days",
                            self.availability.describe(last, self.terms.timezone.name())
                        ));
                        None
                    }
                    (None, _) => {
                        reasons.push("the sender gets the ending reply with where to find help".into());
                        Some(self.reply(c, self.templates.ending.render(|p| self.fill(p, c)), "ended"))
                    }
                };
                return decision(Action::Ended, None, reasons, reply, on_call);
            }
            EngagementState::Transferred => {
                reasons.push("the engagement was transferred: forwarded to the current worker".into());
                return decision(Action::Forward, None, reasons, None, on_call);
            }
            _ => {}
        }

        if let Some(why) = not_a_person(m) {
            reasons.push(why);
            reasons.push("listed, never answered".into());
            return decision(Action::Ignore, None, reasons, None, on_call);
        }

        let open = self.availability.openness(c.at);
        let zone = self.terms.timezone.name();
        if open.open {
            reasons.push(match open.next_close {
                Some(close) => format!(
                    "within office hours (open until {})",
                    self.availability.describe(close, zone)
                ),
                None => "within office hours".into(),
            });
            return decision(Action::Deliver, None, reasons, None, on_call);
        }
        let Some(release_at) = open.next_open else {
            reasons.push("no office hours within the next year, so nothing is held: delivered now".into());
            return decision(Action::Deliver, None, reasons, None, on_call);
        };
        reasons.push(format!(
            "outside office hours: held until {}",
            self.availability.describe(release_at, zone)
        ));
        if on_call {
            reasons.push(format!(
                "you are on call for {} now, for crisis only; this message is not a crisis",
                c.channel.key()
            ));
        }

        let reply = self.away_reply(c, &mut reasons);
        let action = if reply.is_some() {
            Action::AutoReply
        } else {
            Action::Hold
        };
        decision(action, Some(release_at), reasons, reply, on_call)
    }

    /// The out-of-hours reply, when the rules allow one.
    fn away_reply(&self, c: &Contact, reasons: &mut Vec<String>) -> Option<Reply> {
        let auto = &self.terms.auto_reply;
        if !auto.enabled {
            reasons.push("automatic replies are off in the terms".into());
            return None;
        }
        if c.channel == Channel::Voice {
            reasons.push("calls get the voicemail greeting, not a written reply".into());
            return None;
        }
        if let Some(why) = self.unanswerable(c.message) {
            reasons.push(why);
            return None;
        }
        if let Some(last) = c.last_reply {
            let zone = self.terms.timezone.name();
            match (auto.every_days, auto.once_per) {
                (Some(days), _) => {
                    let period = SignedDuration::from_hours(24 * i64::from(days));
                    if c.at.duration_since(last) < period {
                        reasons.push(format!(
                            "this sender had an automatic reply on {}; one every {days} days at most",
                            self.availability.describe(last, zone)
                        ));
                        return None;
                    }
                }
                (None, Some(OncePer::ClosedPeriod) | None) => {
                    if let Some(since) = self.availability.closed_since(c.at)
                        && last >= since
                    {
                        reasons.push(format!(
                            "this sender already had an automatic reply in this closed spell (on {})",
                            self.availability.describe(last, zone)
                        ));
                        return None;
                    }
                }
            }
        }
        reasons.push("the sender gets an automatic reply saying when to expect an answer".into());
        Some(self.reply(c, self.templates.away.render(|p| self.fill(p, c)), "away"))
    }

    fn fill(&self, p: Placeholder, c: &Contact) -> String {
        match p {
            Placeholder::Name => practitioner_name(&self.terms).to_string(),
            Placeholder::ReplyBy => match self.availability.reply_by(c.at) {
                Some(at) => self.availability.describe(at, self.terms.timezone.name()),
                None => "as soon as they can".to_string(),
            },
            Placeholder::Crisis => self.crisis.clone(),
            Placeholder::Text => match c.state {
                EngagementState::Ended => self.terms.auto_reply.ending_text.clone(),
                _ => self.terms.auto_reply.text.clone(),
            },
        }
    }

    /// Address and headers of a reply (RFC 3834 §3 for email).
    fn reply(&self, c: &Contact, body: String, why: &str) -> Reply {
        let m = c.message;
        let mut headers = BTreeMap::new();
        let mut subject = None;
        let to = m.reply_address().map(str::to_string);
        if c.channel == Channel::Email {
            headers.insert("Auto-Submitted".into(), format!("auto-replied ({why})"));
            headers.insert("Precedence".into(), "bulk".into());
            headers.insert("X-Auto-Response-Suppress".into(), "All".into());
            let from_addr = m
                .recipients
                .iter()
                .find(|r| self.own.iter().any(|o| o == *r))
                .or(self.own.first())
                .cloned();
            if let Some(addr) = from_addr {
                let name = self.terms.practitioner.name.trim().replace(['"', '\\'], "");
                headers.insert(
                    "From".into(),
                    if name.is_empty() {
                        format!("<{addr}>")
                    } else {
                        format!("\"{name}\" <{addr}>")
                    },
                );
            }
            if let Some(to) = &to {
                // The display name only when From or Sender holds the same address (as Pigeonhole does).
                let named = [m.sender.as_ref(), m.from.as_ref()]
                    .into_iter()
                    .flatten()
                    .find(|mb| mb.address.eq_ignore_ascii_case(to));
                headers.insert(
                    "To".into(),
                    named.map(|mb| mb.header()).unwrap_or_else(|| format!("<{to}>")),
                );
            }
            if let Some(id) = &m.message_id {
                headers.insert("In-Reply-To".into(), format!("<{id}>"));
                let mut refs: Vec<String> = if !m.references.is_empty() {
                    m.references.clone()
                } else if m.in_reply_to.len() == 1 {
                    m.in_reply_to.clone()
                } else {
                    Vec::new()
                };
                refs.push(id.clone());
                headers.insert(
                    "References".into(),
                    refs.iter().map(|r| format!("<{r}>")).collect::<Vec<_>>().join(" "),
                );
            } else if !m.references.is_empty() {
                headers.insert(
                    "References".into(),
                    m.references
                        .iter()
                        .map(|r| format!("<{r}>"))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
            subject = Some(reply_subject(m.subject.as_deref()));
        }
        Reply {
            to,
            subject,
            headers,
            body,
        }
    }
}

fn decision(
    action: Action,
    release_at: Option<Timestamp>,
    reasons: Vec<String>,
    reply: Option<Reply>,
    on_call: bool,
) -> Decision {
    Decision {
        action,
        release_at,
        reasons,
        reply,
        on_call,
    }
}

fn evidence(labels: &[Finding]) -> String {
    let words: Vec<String> = labels
        .iter()
        .filter(|f| f.label == crate::triage::Label::Crisis)
        .flat_map(|f| f.evidence.iter().map(|e| format!("\"{e}\"")))
        .collect();
    if words.is_empty() {
        "labelled crisis".into()
    } else {
        words.join(", ")
    }
}

/// Why a message was not written by a person, if it was not.
pub fn not_a_person(m: &Message) -> Option<String> {
    if m.return_path == ReturnPath::Null {
        return Some("sent from the null address (Return-Path <>), as bounces are".into());
    }
    if let Some(v) = m.auto_submitted.iter().find(|v| !v.eq_ignore_ascii_case("no")) {
        return Some(format!("automatic mail (Auto-Submitted: {v})"));
    }
    if let Some(h) = m.list_headers.first() {
        return Some(format!("mailing-list mail ({h} header)"));
    }
    if let Some(v) = m.precedence.iter().find(|v| {
        ["bulk", "list", "junk"]
            .iter()
            .any(|p| v.trim().eq_ignore_ascii_case(p))
    }) {
        return Some(format!("bulk mail (Precedence: {v})"));
    }
    if let Some(v) = m.auto_response_suppress.iter().find(|v| {
        v.split(',')
            .map(str::trim)
            .any(|p| p.eq_ignore_ascii_case("all") || p.eq_ignore_ascii_case("oof"))
    }) {
        return Some(format!(
            "the sender asked for no automatic replies (X-Auto-Response-Suppress: {v})"
        ));
    }
    if m.received > MAX_RECEIVED {
        return Some(format!("{} Received headers: looks like a mail loop", m.received));
    }
    if let Some(addr) = m.sender_address()
        && let Some(why) = system_sender(addr)
    {
        return Some(why);
    }
    None
}

/// Addresses of automated systems (RFC 5230 §4.6) and no-reply senders (an Endwell policy).
fn system_sender(addr: &str) -> Option<String> {
    let local = addr
        .rsplit_once('@')
        .map(|(l, _)| l)
        .unwrap_or(addr)
        .to_ascii_lowercase();
    let system = ["mailer-daemon", "listserv", "majordomo"].contains(&local.as_str())
        || local.contains("-request")
        || local.starts_with("owner-");
    let noreply = ["noreply", "no-reply", "donotreply", "do-not-reply", "no_reply"].contains(&local.as_str());
    (system || noreply).then(|| format!("sent by an automated system ({addr})"))
}

/// `Auto: ` and the original subject, at most 256 characters (RFC 3834 §3.1.5, as Pigeonhole).
pub fn reply_subject(original: Option<&str>) -> String {
    let original = original.map(str::trim).filter(|s| !s.is_empty());
    let Some(s) = original else {
        return "Automated reply".into();
    };
    let clean: String = s.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
    let full = format!("Auto: {clean}");
    if full.chars().count() <= 256 {
        full
    } else {
        let mut cut: String = full.chars().take(255).collect();
        cut.push('…');
        cut
    }
}
