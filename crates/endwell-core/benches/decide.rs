//! Decisions per second on one core over a realistic mix of messages and
//! times (in hours, evenings, weekends, holidays; plain mail, list mail,
//! crisis, SMS), with the policy compiled once per agreement as a server
//! does. Baseline in the same run: the bare lookup "open at this instant?"
//! on the same compiled spells, so the ratio shows what deciding adds.
//!
//! Run: `cargo bench -p endwell-core --bench decide`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use endwell_core::decision::{Contact, Policy};
use endwell_core::lifecycle::EngagementState;
use endwell_core::message::Message;
use endwell_core::terms::{Channel, Terms};
use endwell_core::triage::{Classifier, Finding, PackClassifier};
use jiff::{SignedDuration, Timestamp};

fn bench(c: &mut Criterion) {
    let terms = Terms::from_toml(include_str!("../tests/design-terms.toml")).unwrap();
    let start: Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
    let policy = Policy::compile(
        &terms,
        start - SignedDuration::from_hours(24 * 400),
        start + SignedDuration::from_hours(24 * 800),
    );
    let raw = [
        "Return-Path: <alex@example.net>\nFrom: Alex <alex@example.net>\nTo: sam@clinic.example\nSubject: Thursday\nMessage-ID: <m1@example.net>\n\nCould we move Thursday's session to Friday?\n",
        "Return-Path: <news@charity.example>\nFrom: news@charity.example\nTo: sam@clinic.example\nList-Id: <news.charity.example>\nSubject: News\n\nOur monthly newsletter\n",
        "Return-Path: <bo@example.net>\nFrom: bo@example.net\nTo: sam@clinic.example\nSubject: tonight\n\nI don't want to be here anymore\n",
        "Return-Path: <cy@example.net>\nFrom: cy@example.net\nTo: sam@clinic.example\nSubject: Re: invoice\nReferences: <a@x> <b@x>\nMessage-ID: <m2@example.net>\n\nPaid the invoice today, thanks.\n",
    ];
    let classifier = PackClassifier::english();
    let mut messages: Vec<(Message, Vec<Finding>, Channel)> = raw
        .iter()
        .map(|r| {
            let m = Message::parse(r.as_bytes());
            let l = classifier.classify(&m.body);
            (m, l, Channel::Email)
        })
        .collect();
    let sms = Message::plain(Some("+447700900123"), "Running 10 minutes late");
    let l = classifier.classify(&sms.body);
    messages.push((sms, l, Channel::Sms));
    // 97 instants spread over 8 weeks (every 13h 51m: all hours of all days).
    let times: Vec<Timestamp> = (0..97).map(|i| start + SignedDuration::from_mins(i * 831)).collect();
    let last: Timestamp = "2026-11-20T20:00:00Z".parse().unwrap();

    let mut g = c.benchmark_group("decide");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("decide", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let (m, labels, channel) = &messages[i % messages.len()];
            let d = policy.decide(&Contact {
                channel: *channel,
                state: EngagementState::Active,
                message: m,
                labels,
                at: times[i % times.len()],
                last_reply: if i.is_multiple_of(3) { Some(last) } else { None },
            });
            std::hint::black_box(d)
        })
    });
    let mut j = 0usize;
    g.bench_function("baseline_is_open", |b| {
        b.iter(|| {
            j = j.wrapping_add(1);
            std::hint::black_box(policy.availability().is_open(times[j % times.len()]))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
