//! Decision table: every rule of `decision.rs`, on DESIGN.md's example terms.
//! Reply texts are snapshot-tested (`cargo insta review` to accept changes).

use endwell_core::decision::{Action, Contact, Decision, Policy};
use endwell_core::lifecycle::EngagementState;
use endwell_core::message::Message;
use endwell_core::terms::{Channel, Terms};
use endwell_core::triage::{Classifier, PackClassifier};

/// The built-in pack, read once.
static TRIAGE: std::sync::LazyLock<std::sync::Arc<PackClassifier>> = std::sync::LazyLock::new(PackClassifier::english);
use jiff::Timestamp;

const TERMS: &str = include_str!("design-terms.toml");

fn terms() -> Terms {
    Terms::from_toml(TERMS).unwrap()
}

/// Monday 30 November 2026, 10:00 London: open.
const OPEN: &str = "2026-11-30T10:00:00Z";
/// Monday 30 November 2026, 20:00 London: closed until Tuesday 09:00.
const EVENING: &str = "2026-11-30T20:00:00Z";
/// Saturday 5 December 2026, 11:00 London: closed, on call for sms and voice.
const SATURDAY: &str = "2026-12-05T11:00:00Z";
/// Saturday 26 December 2026: inside the holiday exception.
const HOLIDAY: &str = "2026-12-26T11:00:00Z";

fn mail(extra_headers: &str, body: &str) -> Message {
    let raw = format!(
        "Return-Path: <alex@example.net>\r\nFrom: \"Alex Kim\" <alex@example.net>\r\nTo: Sam Rivera <sam@clinic.example>\r\nSubject: Thursday\r\nMessage-ID: <m1@example.net>\r\n{extra_headers}\r\n{body}\r\n"
    );
    Message::parse(raw.as_bytes())
}

struct Case {
    terms: Terms,
    channel: Channel,
    state: EngagementState,
    at: &'static str,
    last_reply: Option<&'static str>,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            terms: terms(),
            channel: Channel::Email,
            state: EngagementState::Active,
            at: OPEN,
            last_reply: None,
        }
    }
}

impl Case {
    fn decide(&self, m: &Message) -> Decision {
        let at: Timestamp = self.at.parse().unwrap();
        let labels = TRIAGE.classify_message(m);
        Policy::around(&self.terms, at).decide(&Contact {
            channel: self.channel,
            state: self.state,
            message: m,
            labels: &labels,
            at,
            last_reply: self.last_reply.map(|t| t.parse().unwrap()),
        })
    }
}

fn plain_message() -> Message {
    mail("", "Could we move Thursday's session to Friday?")
}

#[test]
fn within_office_hours_delivers() {
    let d = Case::default().decide(&plain_message());
    assert_eq!(d.action, Action::Deliver, "{d:?}");
    assert_eq!(d.release_at, None);
    assert!(d.reply.is_none());
    assert!(d.reasons[0].contains("within office hours"), "{:?}", d.reasons);
}

#[test]
fn outside_hours_holds_and_replies_with_the_concrete_time() {
    let d = Case {
        at: EVENING,
        ..Case::default()
    }
    .decide(&plain_message());
    assert_eq!(d.action, Action::AutoReply, "{d:?}");
    assert_eq!(d.release_at, Some("2026-12-01T09:00:00Z".parse().unwrap()));
    let reply = d.reply.unwrap();
    assert_eq!(reply.to.as_deref(), Some("alex@example.net"));
    assert_eq!(reply.subject.as_deref(), Some("Auto: Thursday"));
    assert_eq!(reply.headers["Auto-Submitted"], "auto-replied (away)");
    assert_eq!(reply.headers["In-Reply-To"], "<m1@example.net>");
    assert_eq!(reply.headers["References"], "<m1@example.net>");
    assert_eq!(reply.headers["To"], "\"Alex Kim\" <alex@example.net>");
    assert_eq!(reply.headers["From"], "\"Sam Rivera\" <sam@clinic.example>");
    insta::assert_snapshot!("away_reply", reply.body);
}

#[test]
fn a_reply_never_says_why_the_practitioner_is_away() {
    let d = Case {
        at: HOLIDAY,
        ..Case::default()
    }
    .decide(&plain_message());
    assert_eq!(d.action, Action::AutoReply);
    let body = d.reply.unwrap().body;
    assert!(!body.to_lowercase().contains("holiday"), "{body}");
    assert!(body.contains("Thursday 31 December 2026 at 17:00"), "{body}");
    insta::assert_snapshot!("away_reply_after_holiday", body);
}

#[test]
fn once_per_closed_spell() {
    // Replied earlier this evening: same closed spell, no second reply.
    let d = Case {
        at: EVENING,
        last_reply: Some("2026-11-30T18:00:00Z"),
        ..Case::default()
    }
    .decide(&plain_message());
    assert_eq!(d.action, Action::Hold, "{d:?}");
    assert!(
        d.reasons
            .iter()
            .any(|r| r.contains("already had an automatic reply in this closed spell"))
    );
    // Replied during the previous closed spell (last weekend): a new spell, a new reply.
    let d = Case {
        at: EVENING,
        last_reply: Some("2026-11-29T18:00:00Z"),
        ..Case::default()
    }
    .decide(&plain_message());
    assert_eq!(d.action, Action::AutoReply);
}

#[test]
fn every_n_days() {
    let mut t = terms();
    t.auto_reply.once_per = None;
    t.auto_reply.every_days = Some(4);
    let case = |last| Case {
        terms: t.clone(),
        at: EVENING,
        last_reply: Some(last),
        ..Case::default()
    };
    assert_eq!(
        case("2026-11-28T20:00:00Z").decide(&plain_message()).action,
        Action::Hold
    );
    assert_eq!(
        case("2026-11-26T20:00:00Z").decide(&plain_message()).action,
        Action::AutoReply
    );
}

#[test]
fn auto_reply_disabled_only_holds() {
    let mut t = terms();
    t.auto_reply.enabled = false;
    let d = Case {
        terms: t,
        at: EVENING,
        ..Case::default()
    }
    .decide(&plain_message());
    assert_eq!(d.action, Action::Hold);
    assert!(d.reply.is_none());
}

#[test]
fn crisis_is_never_held_even_outside_hours() {
    let m = mail("", "I can't do this anymore. I want to end my life.");
    let d = Case {
        at: EVENING,
        ..Case::default()
    }
    .decide(&m);
    assert_eq!(d.action, Action::Crisis, "{d:?}");
    assert_eq!(d.release_at, None);
    let reply = d.reply.unwrap();
    assert!(reply.body.contains("Samaritans: 116 123 (24 hours)"));
    assert!(reply.body.contains("Emergency: 999"));
    insta::assert_snapshot!("crisis_reply", reply.body);
}

#[test]
fn crisis_on_call_says_so() {
    let m = Message::plain(Some("+447700900123"), "I want to hurt myself");
    let d = Case {
        at: SATURDAY,
        channel: Channel::Sms,
        ..Case::default()
    }
    .decide(&m);
    assert_eq!(d.action, Action::Crisis);
    assert!(d.on_call);
    assert!(
        d.reasons.iter().any(|r| r.contains("on call for sms")),
        "{:?}",
        d.reasons
    );
    assert_eq!(d.reply.unwrap().to.as_deref(), Some("+447700900123"));
}

#[test]
fn on_call_is_crisis_only() {
    let m = Message::plain(Some("+447700900123"), "Running late on Monday");
    let d = Case {
        at: SATURDAY,
        channel: Channel::Sms,
        ..Case::default()
    }
    .decide(&m);
    assert_eq!(d.action, Action::AutoReply, "{d:?}");
    assert!(d.on_call);
    assert!(d.reasons.iter().any(|r| r.contains("for crisis only")));
    assert!(d.reply.unwrap().subject.is_none(), "SMS replies have no subject");
}

#[test]
fn list_bulk_and_automatic_mail_is_never_answered() {
    for (headers, why) in [
        ("List-Id: <news.charity.example>\r\n", "mailing-list"),
        ("List-Unsubscribe: <mailto:u@x.example>\r\n", "mailing-list"),
        ("Precedence: bulk\r\n", "bulk"),
        ("Precedence: junk\r\n", "bulk"),
        ("Auto-Submitted: auto-replied\r\n", "automatic"),
        ("Auto-Submitted: no (comment)\r\n", "automatic"),
        ("X-Auto-Response-Suppress: DR, OOF,\tRN\r\n", "no automatic replies"),
        ("X-Auto-Response-Suppress: All\r\n", "no automatic replies"),
    ] {
        for at in [OPEN, EVENING] {
            let d = Case { at, ..Case::default() }.decide(&mail(headers, "Our newsletter"));
            assert_eq!(d.action, Action::Ignore, "{headers}: {d:?}");
            assert!(d.reply.is_none());
            assert!(d.reasons.iter().any(|r| r.contains(why)), "{headers}: {:?}", d.reasons);
        }
    }
    // AutoReply alone does not suppress (as Pigeonhole and Stalwart).
    let d = Case {
        at: EVENING,
        ..Case::default()
    }
    .decide(&mail("X-Auto-Response-Suppress: AutoReply\r\n", "hi"));
    assert_eq!(d.action, Action::AutoReply);
}

#[test]
fn null_and_system_senders_are_never_answered() {
    let bounce = Message::parse(b"Return-Path: <>\r\nFrom: Mail Delivery <MAILER-DAEMON@mx.example>\r\nTo: sam@clinic.example\r\nSubject: Undelivered\r\n\r\nbounce");
    let d = Case {
        at: EVENING,
        ..Case::default()
    }
    .decide(&bounce);
    assert_eq!(d.action, Action::Ignore, "{d:?}");
    for sender in [
        "MAILER-DAEMON@mx.example",
        "list-request@x.example",
        "owner-list@x.example",
        "noreply@shop.example",
    ] {
        let m = Message::parse(
            format!("Return-Path: <{sender}>\r\nFrom: {sender}\r\nTo: sam@clinic.example\r\nSubject: x\r\n\r\nx")
                .as_bytes(),
        );
        let d = Case {
            at: EVENING,
            ..Case::default()
        }
        .decide(&m);
        assert_eq!(d.action, Action::Ignore, "{sender}: {d:?}");
    }
}

#[test]
fn own_addresses_are_not_contacts() {
    let m = Message::parse(b"Return-Path: <SAM@clinic.example>\r\nFrom: sam@clinic.example\r\nTo: sam@clinic.example\r\nSubject: note\r\n\r\nnote to self");
    let d = Case {
        at: EVENING,
        ..Case::default()
    }
    .decide(&m);
    assert_eq!(d.action, Action::Ignore);
    assert!(d.reasons[0].contains("your own address"));
}

#[test]
fn mail_not_addressed_to_the_practitioner_is_held_without_reply() {
    let m = Message::parse(b"Return-Path: <alex@example.net>\r\nFrom: alex@example.net\r\nTo: everyone@example.net\r\nBcc: \r\nSubject: party\r\n\r\nhello all");
    let d = Case {
        at: EVENING,
        ..Case::default()
    }
    .decide(&m);
    assert_eq!(d.action, Action::Hold, "{d:?}");
    assert!(d.reasons.iter().any(|r| r.contains("not addressed to you")));
}

#[test]
fn ended_engagement_gets_the_ending_reply() {
    let d = Case {
        state: EngagementState::Ended,
        ..Case::default()
    }
    .decide(&plain_message());
    assert_eq!(d.action, Action::Ended, "{d:?}");
    assert_eq!(d.release_at, None);
    let reply = d.reply.unwrap();
    assert!(reply.body.contains("Samaritans"));
    assert_eq!(reply.headers["Auto-Submitted"], "auto-replied (ended)");
    insta::assert_snapshot!("ending_reply", reply.body);
    // Not repeated within a week.
    let d = Case {
        state: EngagementState::Ended,
        last_reply: Some("2026-11-27T10:00:00Z"),
        ..Case::default()
    }
    .decide(&plain_message());
    assert_eq!(d.action, Action::Ended);
    assert!(d.reply.is_none());
    // Lists are still ignored.
    let d = Case {
        state: EngagementState::Ended,
        ..Case::default()
    }
    .decide(&mail("List-Id: <x>\r\n", "news"));
    assert_eq!(d.action, Action::Ignore);
}

#[test]
fn transferred_engagement_forwards() {
    let d = Case {
        state: EngagementState::Transferred,
        at: EVENING,
        ..Case::default()
    }
    .decide(&plain_message());
    assert_eq!(d.action, Action::Forward, "{d:?}");
    assert!(d.reply.is_none());
}

#[test]
fn crisis_from_a_former_client_still_alerts() {
    let d = Case {
        state: EngagementState::Ended,
        ..Case::default()
    }
    .decide(&mail("", "I feel suicidal tonight"));
    assert_eq!(d.action, Action::Crisis);
    assert!(d.reply.is_some());
}

#[test]
fn calls_are_held_without_a_written_reply() {
    let d = Case {
        at: EVENING,
        channel: Channel::Voice,
        ..Case::default()
    }
    .decide(&Message::plain(Some("+447700900123"), "voicemail: please call me back"));
    assert_eq!(d.action, Action::Hold);
    assert!(d.reasons.iter().any(|r| r.contains("voicemail")));
}

#[test]
fn never_open_does_not_hold_forever() {
    let t = Terms::from_toml("timezone = \"Europe/London\"\n[office_hours]\n").unwrap();
    let d = Case {
        terms: t,
        ..Case::default()
    }
    .decide(&plain_message());
    assert_eq!(d.action, Action::Deliver);
    assert!(d.reasons[0].contains("no office hours within the next year"));
}

#[test]
fn own_template_and_words() {
    let mut t = terms();
    t.auto_reply.template = Some("Hi. {name} replies by {reply_by}.\n\n{text}\n\n{crisis}".into());
    let d = Case {
        terms: t,
        at: EVENING,
        ..Case::default()
    }
    .decide(&plain_message());
    insta::assert_snapshot!("own_template", d.reply.unwrap().body);
}

#[test]
fn long_subjects_are_cut_at_256_characters() {
    let long = "x".repeat(600);
    let m = mail("", "hi");
    let mut m2 = m.clone();
    m2.subject = Some(long);
    let d = Case {
        at: EVENING,
        ..Case::default()
    }
    .decide(&m2);
    let s = d.reply.unwrap().subject.unwrap();
    assert_eq!(s.chars().count(), 256);
    assert!(s.ends_with('…'));
}

#[test]
fn references_follow_rfc5322() {
    let m = mail("References: <r1@x> <r2@x>\r\n", "hi");
    let d = Case {
        at: EVENING,
        ..Case::default()
    }
    .decide(&m);
    assert_eq!(d.reply.unwrap().headers["References"], "<r1@x> <r2@x> <m1@example.net>");
}
