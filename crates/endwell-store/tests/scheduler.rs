//! Contacts and the durable release of held contacts, on every backend:
//! exactly once across a restart, and exactly once with two instances on
//! PostgreSQL.

use endwell_core::access::Viewer;
use endwell_core::decision::{Action, Contact, Policy};
use endwell_core::lifecycle::EngagementState;
use endwell_core::message::Message;
use endwell_core::model::{NewUser, Role};
use endwell_core::terms::{Channel, Terms};
use endwell_core::triage::{Classifier, PackClassifier};

/// The built-in pack, read once.
static TRIAGE: std::sync::LazyLock<std::sync::Arc<PackClassifier>> = std::sync::LazyLock::new(PackClassifier::english);
use endwell_store::contacts::{InboxQuery, NewContact};
use endwell_store::testing::{TestDb, backends};
use endwell_store::{Backend, Store, StoreError};
use jiff::Timestamp;

const TERMS: &str = include_str!("../../endwell-core/tests/design-terms.toml");

async fn practitioner(store: &Store, email: &str) -> Viewer {
    let u = store
        .create_user(
            NewUser {
                email: email.into(),
                display_name: "Sam".into(),
                role: Role::Practitioner,
                profession: String::new(),
                timezone: "Europe/London".into(),
                supervisor_id: None,
            },
            None,
        )
        .await
        .unwrap();
    Viewer { id: u.id, role: u.role }
}

/// Decide a contact from `sender` at `at`, given when the sender was last answered.
fn decided(v: Viewer, sender: &str, body: &str, at: &str, last_reply: Option<Timestamp>) -> NewContact {
    let terms = Terms::from_toml(TERMS).unwrap();
    let at: Timestamp = at.parse().unwrap();
    let raw = format!("Return-Path: <{sender}>\nFrom: {sender}\nTo: sam@clinic.example\nSubject: hello\n\n{body}\n");
    let m = Message::parse(raw.as_bytes());
    let labels = TRIAGE.classify_message(&m);
    let decision = Policy::around(&terms, at).decide(&Contact {
        channel: Channel::Email,
        state: EngagementState::Active,
        message: &m,
        labels: &labels,
        at,
        last_reply,
    });
    NewContact {
        practitioner_id: v.id,
        engagement_id: None,
        channel: Channel::Email,
        sender: sender.into(),
        subject: m.subject.clone(),
        body: m.body.clone(),
        received_at: at,
        labels,
        decision,
    }
}

/// Decide and record one contact from `sender` at `at`.
async fn contact(
    store: &Store,
    v: Viewer,
    sender: &str,
    body: &str,
    at: &str,
) -> endwell_store::contacts::ContactEntry {
    let last_reply = store.last_reply(v.id, sender).await.unwrap();
    store
        .record_contact(v, decided(v, sender, body, at, last_reply))
        .await
        .unwrap()
}

/// Monday 30 November 2026 evenings (closed until Tuesday 09:00 London = 09:00Z).
const EVENING: &str = "2026-11-30T20:00:00Z";
const LATER: &str = "2026-11-30T21:00:00Z";
const RELEASE: &str = "2026-12-01T09:00:00Z";

#[tokio::test]
async fn held_contacts_are_recorded_sealed_and_answered_once_per_spell() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sam = practitioner(&store, "sam@clinic.example").await;
        let first = contact(&store, sam, "alex@example.net", "Can we move Thursday?", EVENING).await;
        assert_eq!(first.action, Action::AutoReply, "{backend}");
        let second = contact(&store, sam, "ALEX@example.net", "Also, Friday?", LATER).await;
        assert_eq!(second.action, Action::Hold, "{backend}: one reply per closed spell");
        let crisis = contact(&store, sam, "bo@example.net", "I want to end my life", LATER).await;
        assert_eq!(crisis.action, Action::Crisis);

        let waiting = store
            .inbox(
                sam,
                InboxQuery {
                    waiting_only: true,
                    per_page: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(waiting.len(), 2, "{backend}: the crisis is not held");
        assert_eq!(waiting[0].body, "Also, Friday?");
        assert_eq!(store.contact(sam, first.id).await.unwrap(), first);

        // Another practitioner sees none of it.
        let other = practitioner(&store, "dana@clinic.example").await;
        assert!(store.contact(other, first.id).await.is_err());
        assert!(
            store
                .inbox(
                    other,
                    InboxQuery {
                        per_page: 50,
                        ..Default::default()
                    }
                )
                .await
                .unwrap()
                .is_empty()
        );

        // Sealed at rest: the text is not in the database file in clear.
        if store.backend() == Backend::Sqlite {
            store.close().await;
            let bytes = std::fs::read(&db.url).unwrap_or_default();
            let wal = std::fs::read(format!("{}-wal", db.url)).unwrap_or_default();
            for hay in [bytes, wal] {
                assert!(!hay.windows(13).any(|w| w == b"Also, Friday?"), "body stored in clear");
                assert!(
                    !hay.windows(16).any(|w| w == b"alex@example.net"),
                    "sender stored in clear"
                );
            }
        } else {
            store.close().await;
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn release_is_exactly_once_across_a_restart() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sam = practitioner(&store, "sam@clinic.example").await;
        for i in 0..3 {
            contact(&store, sam, &format!("c{i}@example.net"), "hello", EVENING).await;
        }
        // Nothing is due before the office opens.
        assert!(store.release_due(LATER.parse().unwrap(), 10).await.unwrap().is_empty());
        assert_eq!(store.next_job_at().await.unwrap(), Some(RELEASE.parse().unwrap()));
        store.close().await;

        // Restart: the job was durable.
        let store = db.store().await;
        let digests = store.release_due(RELEASE.parse().unwrap(), 10).await.unwrap();
        assert_eq!(digests.len(), 1, "{backend}");
        assert_eq!(digests[0].contact_count, 3);
        store.close().await;

        // Restart again: nothing is released twice.
        let store = db.store().await;
        assert!(
            store
                .release_due("2026-12-02T09:00:00Z".parse().unwrap(), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.next_job_at().await.unwrap(), None);
        let released = store.digest_contacts(sam, digests[0].id).await.unwrap();
        assert_eq!(released.len(), 3);
        assert!(released.iter().all(|c| c.released_at.is_some() && !c.is_waiting()));
        assert_eq!(store.digests(sam, 10).await.unwrap(), digests);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn release_now_takes_everything_waiting_once() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sam = practitioner(&store, "sam@clinic.example").await;
        contact(&store, sam, "a@example.net", "hello", EVENING).await;
        contact(&store, sam, "b@example.net", "hello", LATER).await;
        let d = store.release_now(sam).await.unwrap().unwrap();
        assert_eq!(d.contact_count, 2, "{backend}");
        assert!(store.release_now(sam).await.unwrap().is_none());
        // The scheduled job later finds nothing left and makes no empty digest.
        assert!(
            store
                .release_due(RELEASE.parse().unwrap(), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.digests(sam, 10).await.unwrap().len(), 1);
        store.close().await;
        db.cleanup().await;
    }
}

/// Two instances (two pools) on one PostgreSQL database run the scheduler
/// at the same time: every contact is released once, one digest per job.
#[tokio::test]
async fn two_instances_release_each_digest_once() {
    if !backends().contains(&"postgres") {
        eprintln!("!!! two_instances_release_each_digest_once SKIPPED: ENDWELL_TEST_POSTGRES is not set !!!");
        return;
    }
    let db = TestDb::new("postgres").await;
    let a = db.store().await;
    let b = db.store().await;
    let mut people = Vec::new();
    for p in 0..8 {
        let v = practitioner(&a, &format!("p{p}@clinic.example")).await;
        for i in 0..5 {
            contact(&a, v, &format!("c{i}@example.net"), "hello", EVENING).await;
        }
        people.push(v);
    }
    let at: Timestamp = RELEASE.parse().unwrap();
    let run = |s: Store| async move {
        let mut all = Vec::new();
        loop {
            let got = s.release_due(at, 1).await.unwrap();
            if got.is_empty() {
                break;
            }
            all.extend(got);
        }
        all
    };
    let (da, db_) = tokio::join!(tokio::spawn(run(a.clone())), tokio::spawn(run(b.clone())));
    let mut digests = da.unwrap();
    digests.extend(db_.unwrap());
    assert_eq!(digests.len(), 8, "one digest per practitioner");
    assert_eq!(digests.iter().map(|d| d.contact_count).sum::<i64>(), 40);
    for v in people {
        let mine: Vec<_> = digests.iter().filter(|d| d.practitioner_id == v.id).collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(a.digest_contacts(v, mine[0].id).await.unwrap().len(), 5);
    }
    a.close().await;
    b.close().await;
    db.cleanup().await;
}

/// Many contacts recorded at once are written together (group commit):
/// every one is stored exactly once, each held one with its release job,
/// and each call returns its own contact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_recorded_at_once_are_each_committed_once() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sam = practitioner(&store, "sam@clinic.example").await;
        let dana = practitioner(&store, "dana@clinic.example").await;
        let mut tasks = Vec::new();
        for i in 0..100 {
            let (store, v) = (store.clone(), if i % 4 == 0 { dana } else { sam });
            tasks.push(tokio::spawn(async move {
                let body = format!("message {i}");
                let c = decided(v, &format!("c{i}@example.net"), &body, EVENING, None);
                let got = store.record_contact(v, c).await.unwrap();
                assert_eq!(got.body, body);
                got
            }));
        }
        let mut ids = std::collections::BTreeSet::new();
        for t in tasks {
            let c = t.await.unwrap();
            assert_eq!(c.action, Action::AutoReply, "{backend}");
            assert!(ids.insert(c.id), "{backend}: one id per contact");
        }
        let all = |v| {
            let store = store.clone();
            async move {
                store
                    .inbox(
                        v,
                        InboxQuery {
                            per_page: 200,
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap()
            }
        };
        let (mine, hers) = (all(sam).await, all(dana).await);
        assert_eq!((mine.len(), hers.len()), (75, 25), "{backend}");
        assert!(mine.iter().chain(&hers).all(|c| ids.contains(&c.id)));
        // Held, so each practitioner has one release job for 09:00.
        assert_eq!(store.next_job_at().await.unwrap(), Some(RELEASE.parse().unwrap()));
        let digests = store.release_due(RELEASE.parse().unwrap(), 10).await.unwrap();
        assert_eq!(digests.len(), 2, "{backend}");
        assert_eq!(digests.iter().map(|d| d.contact_count).sum::<i64>(), 100);
        store.close().await;
        db.cleanup().await;
    }
}

/// When the shared write fails, every call in it fails and nothing of it
/// is stored; the next contact is written as usual.
#[tokio::test]
async fn a_failed_group_write_fails_every_contact_in_it() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sam = practitioner(&store, "sam@clinic.example").await;
        let good = |i: usize| decided(sam, &format!("c{i}@example.net"), "hello", EVENING, None);
        // An engagement that does not exist breaks the foreign key.
        let bad = NewContact {
            engagement_id: Some(endwell_core::EngagementId::new()),
            ..good(9)
        };
        // On this test's single thread, all three join one write.
        let (a, b, c) = tokio::join!(
            store.record_contact(sam, good(1)),
            store.record_contact(sam, bad),
            store.record_contact(sam, good(2)),
        );
        for r in [a, b, c] {
            let err = r.unwrap_err();
            assert!(matches!(err, StoreError::Batch(_)), "{backend}: {err}");
        }
        let waiting = InboxQuery {
            per_page: 50,
            ..Default::default()
        };
        assert!(store.inbox(sam, waiting.clone()).await.unwrap().is_empty(), "{backend}");
        assert_eq!(
            store.next_job_at().await.unwrap(),
            None,
            "{backend}: no job without its contact"
        );

        // Alone, the failure is the database's own error.
        let alone = store
            .record_contact(
                sam,
                NewContact {
                    engagement_id: Some(endwell_core::EngagementId::new()),
                    ..good(3)
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(alone, StoreError::Database(_)), "{backend}: {alone}");

        store.record_contact(sam, good(4)).await.unwrap();
        assert_eq!(store.inbox(sam, waiting).await.unwrap().len(), 1, "{backend}");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_contact_stored_after_its_release_ran_is_not_left_waiting() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sam = practitioner(&store, "sam@clinic.example").await;
        contact(&store, sam, "a@example.net", "first", EVENING).await;
        assert_eq!(store.release_due(RELEASE.parse().unwrap(), 10).await.unwrap().len(), 1);
        // Stored after the 09:00 job ran, though decided for 09:00 too.
        let late = contact(&store, sam, "b@example.net", "second", LATER).await;
        assert_eq!(late.release_at, Some(RELEASE.parse().unwrap()));
        let soon: jiff::Timestamp = "2026-12-01T09:00:30Z".parse().unwrap();
        let grace = jiff::SignedDuration::from_secs(60);
        // Within the grace period nothing is done (its own job may still be about to run).
        assert_eq!(store.reschedule_overdue(soon, grace).await.unwrap(), 0, "{backend}");
        let later: jiff::Timestamp = "2026-12-01T09:02:00Z".parse().unwrap();
        assert!(
            store.release_due(later, 10).await.unwrap().is_empty(),
            "no job of its own"
        );
        assert_eq!(store.reschedule_overdue(later, grace).await.unwrap(), 1);
        let digests = store.release_due(later, 10).await.unwrap();
        assert_eq!(digests.len(), 1, "{backend}");
        assert_eq!(digests[0].contact_count, 1);
        assert!(!store.contact(sam, late.id).await.unwrap().is_waiting());
        // And nothing more afterwards.
        assert_eq!(store.reschedule_overdue(later, grace).await.unwrap(), 0);
        store.close().await;
        db.cleanup().await;
    }
}
