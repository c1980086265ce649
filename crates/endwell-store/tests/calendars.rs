//! A practitioner's calendars and feed link, on every backend: kept sealed,
//! private to the practitioner, applied to the terms contacts are decided
//! by, refreshed without losing the last good read.

use endwell_core::access::Viewer;
use endwell_core::availability::Availability;
use endwell_core::model::{ClientFields, ConsentMethod, EngagementFields, NewUser, Role};
use endwell_core::terms::{Exception, LocalPoint, Zone};
use endwell_core::{Terms, Transition};
use endwell_store::calendars::CalendarRead;
use endwell_store::testing::{TestDb, backends};
use endwell_store::{Backend, Store, StoreError};
use jiff::Timestamp;

const TERMS: &str = include_str!("../../endwell-core/tests/design-terms.toml");

async fn user(store: &Store, email: &str, role: Role) -> Viewer {
    let u = store
        .create_user(
            NewUser {
                email: email.into(),
                display_name: "Sam Rivera".into(),
                role,
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

fn london() -> Zone {
    "Europe/London".parse().unwrap()
}

fn read(reason: &str, day: &str) -> CalendarRead {
    CalendarRead {
        source: format!("BEGIN:VCALENDAR\r\nX-SECRET-SOURCE:{reason}\r\nEND:VCALENDAR\r\n"),
        zone: london(),
        closures: vec![Exception {
            from: LocalPoint::Day(day.parse().unwrap()),
            to: LocalPoint::Day(day.parse().unwrap()),
            reason: reason.into(),
        }],
        notes: vec!["line 9 (\"Dentist\"): marked free".into()],
    }
}

#[tokio::test]
async fn calendars_close_office_hours_and_stay_private() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sam = user(&store, "sam@clinic.example", Role::Practitioner).await;
        let dana = user(&store, "dana@clinic.example", Role::Practitioner).await;

        // An engagement with the DESIGN terms: Tuesday 1 December 2026 is open 09:00-17:00.
        let c = store
            .create_client(
                sam,
                ClientFields {
                    given_name: "Ada".into(),
                    family_name: "Okafor".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let e = store
            .create_engagement(
                sam,
                c.id,
                EngagementFields {
                    title: "CBT".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        store
            .add_agreement(sam, e.id, Terms::from_toml(TERMS).unwrap(), "Initial")
            .await
            .unwrap();
        store
            .record_consent(sam, e.id, 1, "Ada", ConsentMethod::InPerson)
            .await
            .unwrap();
        store.transition(sam, e.id, Transition::Activate, "").await.unwrap();
        let tuesday: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let open_then = |t: &Terms| Availability::around(t, tuesday).is_open(tuesday);
        let (_, terms) = store.terms_in_force(sam, e.id).await.unwrap();
        assert!(open_then(&terms.unwrap()), "{backend}: open before any calendar");

        let cal = store
            .add_calendar(sam, " Leave ", None, read("Surgery", "2026-12-01"))
            .await
            .unwrap();
        assert_eq!(cal.name, "Leave");
        let (_, terms) = store.terms_in_force(sam, e.id).await.unwrap();
        assert!(!open_then(&terms.unwrap()), "{backend}: the calendar closes the day");

        // Listed for Sam with notes; nothing for Dana, and Dana cannot read or remove it.
        let list = store.calendars(sam).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0], cal);
        assert_eq!(list[0].notes.len(), 1);
        assert!(store.calendars(dana).await.unwrap().is_empty());
        assert!(matches!(store.calendar(dana, cal.id).await, Err(StoreError::NotFound)));
        assert!(matches!(
            store.remove_calendar(dana, cal.id).await,
            Err(StoreError::NotFound)
        ));
        let (_, source) = store.calendar(sam, cal.id).await.unwrap();
        assert!(source.contains("X-SECRET-SOURCE:Surgery"));

        // A failed refresh keeps the closures and says why; a good one replaces them.
        store
            .save_refresh(cal.id, Err("the calendar's server answered 404 Not Found".into()))
            .await
            .unwrap();
        let (after, _) = store.calendar(sam, cal.id).await.unwrap();
        assert_eq!(after.closures, cal.closures);
        assert!(after.last_error.as_deref().unwrap().contains("404"));
        let due = store
            .calendars_due(Timestamp::now() + jiff::SignedDuration::from_secs(1), 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].zone, london());
        store
            .save_refresh(cal.id, Ok(read("Leave", "2026-12-02")))
            .await
            .unwrap();
        let (after, _) = store.calendar(sam, cal.id).await.unwrap();
        assert_eq!(after.last_error, None);
        let (_, terms) = store.terms_in_force(sam, e.id).await.unwrap();
        assert!(
            open_then(&terms.unwrap()),
            "{backend}: the new read no longer closes Tuesday"
        );
        assert!(
            store.calendars_due(after.refreshed_at, 10).await.unwrap().is_empty(),
            "just read: not due"
        );

        // Sealed at rest: the reason and the source are not in the file in clear.
        if store.backend() == Backend::Sqlite {
            store.close().await;
            for f in [db.url.clone(), format!("{}-wal", db.url)] {
                let bytes = std::fs::read(&f).unwrap_or_default();
                assert!(
                    !bytes.windows(7).any(|w| w == b"Surgery"),
                    "closure reason in clear in {f}"
                );
                assert!(
                    !bytes.windows(13).any(|w| w == b"X-SECRET-SOURCE"),
                    "source in clear in {f}"
                );
            }
            let store = db.store().await;
            store.remove_calendar(sam, cal.id).await.unwrap();
            assert!(store.closures_of(sam.id).await.unwrap().is_empty());
            store.close().await;
        } else {
            store.remove_calendar(sam, cal.id).await.unwrap();
            assert!(store.closures_of(sam.id).await.unwrap().is_empty());
            store.close().await;
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn feed_tokens_open_one_feed_until_replaced() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sam = user(&store, "sam@clinic.example", Role::Practitioner).await;
        let admin = user(&store, "admin@clinic.example", Role::Admin).await;
        assert_eq!(store.feed_token(sam).await.unwrap(), None);
        store.new_feed_token(sam, "first-token").await.unwrap();
        assert_eq!(store.feed_token(sam).await.unwrap().as_deref(), Some("first-token"));
        assert_eq!(
            store.user_by_feed_token("first-token").await.unwrap().unwrap().id,
            sam.id
        );
        store.new_feed_token(sam, "second-token").await.unwrap();
        assert!(
            store.user_by_feed_token("first-token").await.unwrap().is_none(),
            "{backend}"
        );
        assert_eq!(
            store.user_by_feed_token("second-token").await.unwrap().unwrap().id,
            sam.id
        );
        store.remove_feed_token(sam).await.unwrap();
        assert!(store.user_by_feed_token("second-token").await.unwrap().is_none());
        assert!(store.user_by_feed_token("").await.unwrap().is_none());
        // Admins read no client data, and so have no feed or calendars.
        assert!(matches!(
            store.new_feed_token(admin, "x").await,
            Err(StoreError::Forbidden)
        ));
        assert!(
            store
                .add_calendar(admin, "x", None, read("x", "2026-12-01"))
                .await
                .is_err()
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn open_work_has_the_terms_in_force() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sam = user(&store, "sam@clinic.example", Role::Practitioner).await;
        let c = store
            .create_client(
                sam,
                ClientFields {
                    given_name: "Ada".into(),
                    family_name: "Okafor".into(),
                    preferred_name: "Addy".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mk = |t: &'static str| EngagementFields {
            title: t.into(),
            ..Default::default()
        };
        let a = store.create_engagement(sam, c.id, mk("A")).await.unwrap();
        let b = store.create_engagement(sam, c.id, mk("B")).await.unwrap();
        let terms = Terms::from_toml(TERMS).unwrap();
        let mut v2 = terms.clone();
        v2.response_time_hours = 48;
        store.add_agreement(sam, a.id, terms.clone(), "1").await.unwrap();
        store
            .record_consent(sam, a.id, 1, "Ada", ConsentMethod::InPerson)
            .await
            .unwrap();
        store.add_agreement(sam, a.id, v2, "2 (not yet agreed)").await.unwrap();
        store.transition(sam, b.id, Transition::Withdraw, "").await.unwrap();
        let work = store.open_work(sam.id).await.unwrap();
        assert_eq!(work.len(), 1, "{backend}: the withdrawn one is closed");
        assert_eq!(work[0].engagement.id, a.id);
        assert_eq!(work[0].client_name, "Addy Okafor");
        assert_eq!(work[0].terms.as_ref().unwrap(), &terms, "the consented version");
        store.close().await;
        db.cleanup().await;
    }
}
