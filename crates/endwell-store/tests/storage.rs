//! One storage test suite for every backend: SQLite always, PostgreSQL when
//! `ENDWELL_TEST_POSTGRES` is set (CI sets it).

use endwell_core::access::Viewer;
use endwell_core::model::{ClientFields, ConsentMethod, EngagementFields, NewUser, Role};
use endwell_core::{EngagementState, Terms, Transition};
use endwell_store::testing::{TestDb, backends};
use endwell_store::{CaseloadQuery, ClientQuery, Store, StoreError};

const TERMS: &str = include_str!("../../endwell-core/tests/design-terms.toml");

async fn user(store: &Store, email: &str, role: Role, supervisor: Option<endwell_core::UserId>) -> Viewer {
    let u = store
        .create_user(
            NewUser {
                email: email.into(),
                display_name: email.split('@').next().unwrap().into(),
                role,
                profession: "Counsellor".into(),
                timezone: "Europe/London".into(),
                supervisor_id: supervisor,
            },
            Some("$argon2id$fake".into()),
        )
        .await
        .unwrap();
    Viewer { id: u.id, role: u.role }
}

fn client(name: &str) -> ClientFields {
    ClientFields {
        given_name: name.into(),
        family_name: "Okafor".into(),
        emails: vec![format!("{}@example.org", name.to_lowercase())],
        phones: vec!["+44 7700 900123".into()],
        vulnerability_notes: "Recently bereaved; lives alone".into(),
        ..Default::default()
    }
}

fn fields(title: &str) -> EngagementFields {
    EngagementFields {
        title: title.into(),
        ..Default::default()
    }
}

macro_rules! on_every_backend {
    ($name:ident, $body:expr) => {
        #[tokio::test]
        async fn $name() {
            for backend in backends() {
                let db = TestDb::new(backend).await;
                let store = db.store().await;
                eprintln!("{} on {backend}", stringify!($name));
                $body(store.clone()).await;
                store.close().await;
                db.cleanup().await;
            }
        }
    };
}

on_every_backend!(users_are_unique_and_found_by_email, |store: Store| async move {
    let v = user(&store, "sam@clinic.example", Role::Practitioner, None).await;
    let err = store
        .create_user(
            NewUser {
                email: "sam@clinic.example".into(),
                display_name: "Sam".into(),
                role: Role::Practitioner,
                profession: String::new(),
                timezone: "UTC".into(),
                supervisor_id: None,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let err = store
        .create_user(
            NewUser {
                email: "Sam@Clinic.example".into(),
                display_name: "Sam again".into(),
                role: Role::Practitioner,
                profession: String::new(),
                timezone: "UTC".into(),
                supervisor_id: None,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "addresses differing only in case are one account: {err}"
    );
    let (u, hash) = store.user_for_login("SAM@clinic.example").await.unwrap().unwrap();
    assert_eq!(u.id, v.id);
    assert_eq!(hash.as_deref(), Some("$argon2id$fake"));
    assert!(store.user_for_login("nobody@x.example").await.unwrap().is_none());
});

on_every_backend!(clients_are_private_and_sealed, |store: Store| async move {
    let sam = user(&store, "sam@clinic.example", Role::Practitioner, None).await;
    let kim = user(&store, "kim@clinic.example", Role::Practitioner, None).await;
    let c = store.create_client(sam, client("Ada")).await.unwrap();
    let got = store.client(sam, c.id).await.unwrap();
    assert_eq!(got, c);
    assert_eq!(got.emails, vec!["ada@example.org"]);
    assert_eq!(got.vulnerability_notes, "Recently bereaved; lives alone");
    // Another practitioner cannot tell it exists.
    assert!(matches!(store.client(kim, c.id).await, Err(StoreError::NotFound)));
    assert!(
        store
            .clients(
                kim,
                ClientQuery {
                    per_page: 50,
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(matches!(
        store.update_client(kim, c.id, client("Eve")).await,
        Err(StoreError::NotFound)
    ));
    // Sealed at rest: the plain text is nowhere in the export's raw source rows.
    let raw = store.export().await.unwrap();
    assert_eq!(raw.clients[0].vulnerability_notes, "Recently bereaved; lives alone");
    let updated = store
        .update_client(
            sam,
            c.id,
            ClientFields {
                phones: vec![],
                ..client("Ada")
            },
        )
        .await
        .unwrap();
    assert!(updated.phones.is_empty());
    assert_eq!(store.client(sam, c.id).await.unwrap().phones, Vec::<String>::new());
    let bad = store.create_client(sam, ClientFields::default()).await.unwrap_err();
    assert_eq!(bad.to_string(), "given_name: is required");
});

on_every_backend!(clients_page_by_name_and_search, |store: Store| async move {
    let sam = user(&store, "sam@clinic.example", Role::Practitioner, None).await;
    for (given, family) in [
        ("Zoë", "Adams"),
        ("Ben", "Okafor"),
        ("Ada", "Okafor"),
        ("Cy", "Brown"),
        ("Dee", "100%_real"),
    ] {
        store
            .create_client(
                sam,
                ClientFields {
                    given_name: given.into(),
                    family_name: family.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let page = |after, search: Option<&str>| ClientQuery {
        search: search.map(str::to_string),
        after,
        per_page: 2,
    };
    let p1 = store.clients(sam, page(None, None)).await.unwrap();
    let names = |p: &endwell_store::ClientPage| p.items.iter().map(|c| c.display_name()).collect::<Vec<_>>();
    assert_eq!(names(&p1), ["Dee 100%_real", "Zoë Adams"]);
    let p2 = store.clients(sam, page(p1.next_after, None)).await.unwrap();
    assert_eq!(names(&p2), ["Cy Brown", "Ada Okafor"]);
    let p3 = store.clients(sam, page(p2.next_after, None)).await.unwrap();
    assert_eq!(names(&p3), ["Ben Okafor"]);
    assert!(p3.next_after.is_none());
    let found = store
        .clients(
            sam,
            ClientQuery {
                search: Some("OKA".into()),
                after: None,
                per_page: 50,
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&found), ["Ada Okafor", "Ben Okafor"]);
    // LIKE's wildcards are taken literally.
    let found = store
        .clients(
            sam,
            ClientQuery {
                search: Some("%_".into()),
                after: None,
                per_page: 50,
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&found), ["Dee 100%_real"]);
});

on_every_backend!(supervisors_read_but_do_not_change, |store: Store| async move {
    let sup = user(&store, "lee@clinic.example", Role::Supervisor, None).await;
    let sam = user(&store, "sam@clinic.example", Role::Practitioner, Some(sup.id)).await;
    let c = store.create_client(sam, client("Ada")).await.unwrap();
    let e = store.create_engagement(sam, c.id, fields("Counselling")).await.unwrap();
    assert_eq!(store.engagement(sup, e.id).await.unwrap().id, e.id);
    assert!(matches!(
        store.transition(sup, e.id, Transition::Withdraw, "").await,
        Err(StoreError::Forbidden)
    ));
    let page = store
        .caseload(
            sup,
            CaseloadQuery {
                state: EngagementState::Proposed,
                after: None,
                per_page: 50,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
});

on_every_backend!(lifecycle_and_agreements_with_history, |store: Store| async move {
    let sam = user(&store, "sam@clinic.example", Role::Practitioner, None).await;
    let c = store.create_client(sam, client("Ada")).await.unwrap();
    let e = store
        .create_engagement(sam, c.id, fields("CBT for panic"))
        .await
        .unwrap();
    assert_eq!(e.state, EngagementState::Proposed);

    // Cannot start before the terms are agreed.
    let err = store.transition(sam, e.id, Transition::Activate, "").await.unwrap_err();
    assert!(err.to_string().contains("consent"), "{err}");

    let terms = Terms::from_toml(TERMS).unwrap();
    let v1 = store
        .add_agreement(sam, e.id, terms.clone(), "Initial terms")
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(
        store.engagement(sam, e.id).await.unwrap().planned_end,
        terms.engagement.ends_on
    );
    store
        .record_consent(sam, e.id, 1, "Ada Okafor", ConsentMethod::InPerson)
        .await
        .unwrap();
    let err = store
        .record_consent(sam, e.id, 1, "Ada Okafor", ConsentMethod::InPerson)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));

    let e2 = store
        .transition(sam, e.id, Transition::Activate, "First session booked")
        .await
        .unwrap();
    assert_eq!(e2.state, EngagementState::Active);
    assert!(e2.started_on.is_some());

    // A new version leaves the old one as it was.
    let mut t2 = terms.clone();
    t2.response_time_hours = 48;
    let v2 = store.add_agreement(sam, e.id, t2, "Slower replies").await.unwrap();
    assert_eq!(v2.version, 2);
    let all = store.agreements(sam, e.id).await.unwrap();
    assert_eq!(all.iter().map(|a| a.version).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(all[1].terms, terms);
    assert!(all[1].consent.is_some() && all[0].consent.is_none());

    // Invalid steps are errors, not no-ops.
    let err = store.transition(sam, e.id, Transition::End, "").await.unwrap_err();
    assert!(matches!(err, StoreError::Domain(_)), "{err}");
    store
        .transition(sam, e.id, Transition::BeginEnding, "Objectives met")
        .await
        .unwrap();
    let done = store.transition(sam, e.id, Transition::End, "").await.unwrap();
    assert_eq!(done.state, EngagementState::Ended);
    let err = store.add_agreement(sam, e.id, terms, "").await.unwrap_err();
    assert!(err.to_string().contains("no longer change"), "{err}");

    let events = store.engagement_events(sam, e.id, None, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().rev().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "engagement.created",
            "agreement.versioned",
            "agreement.consented",
            "engagement.transitioned",
            "agreement.versioned",
            "engagement.transitioned",
            "engagement.transitioned",
        ]
    );
    assert!(
        events
            .iter()
            .all(|ev| ev.actor.to_string() == format!("user:{}", sam.id))
    );
    assert!(store.verify_events().await.unwrap() >= 9);
});

on_every_backend!(caseload_pages_by_state, |store: Store| async move {
    let sam = user(&store, "sam@clinic.example", Role::Practitioner, None).await;
    let kim = user(&store, "kim@clinic.example", Role::Practitioner, None).await;
    let c = store.create_client(sam, client("Ada")).await.unwrap();
    for i in 0..7 {
        store
            .create_engagement(sam, c.id, fields(&format!("Work {i}")))
            .await
            .unwrap();
    }
    let q = |after| CaseloadQuery {
        state: EngagementState::Proposed,
        after,
        per_page: 3,
    };
    let p1 = store.caseload(sam, q(None)).await.unwrap();
    assert_eq!(p1.items.len(), 3);
    assert_eq!(p1.items[0].engagement.title, "Work 6");
    assert_eq!(p1.items[0].client_name, "Ada Okafor");
    let p2 = store.caseload(sam, q(p1.next_after)).await.unwrap();
    let p3 = store.caseload(sam, q(p2.next_after)).await.unwrap();
    assert_eq!((p2.items.len(), p3.items.len()), (3, 1));
    assert!(p3.next_after.is_none());
    assert!(p1.counts.contains(&(EngagementState::Proposed, 7)));
    assert!(store.caseload(kim, q(None)).await.unwrap().items.is_empty());
});

#[tokio::test]
async fn export_import_round_trip_and_survive_reopen() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let sup = user(&store, "lee@clinic.example", Role::Supervisor, None).await;
        let sam = user(&store, "sam@clinic.example", Role::Practitioner, Some(sup.id)).await;
        let c = store.create_client(sam, client("Ada")).await.unwrap();
        let e = store.create_engagement(sam, c.id, fields("Work")).await.unwrap();
        store
            .add_agreement(sam, e.id, Terms::from_toml(TERMS).unwrap(), "v1")
            .await
            .unwrap();
        store
            .record_consent(sam, e.id, 1, "Ada", ConsentMethod::Written)
            .await
            .unwrap();
        office_data(&store, sam, sup, e.id).await;
        let export = store.export().await.unwrap();
        assert_eq!(export.office.contacts.len(), 4, "{backend}");
        assert_eq!(export.office.incidents.len(), 1);
        assert_eq!(export.office.dismissals.len(), 1);
        assert!(export.office.contacts.iter().any(|c| c.acknowledged_at.is_some()));
        assert_eq!(export.office.digests.len(), 1);
        assert_eq!(
            export.office.jobs.len(),
            2,
            "the manual release and the pending release job"
        );
        assert_eq!(export.office.calendars.len(), 1);
        assert_eq!(export.office.calendar_feeds.len(), 1);
        assert_eq!(export.office.transfers.len(), 1);
        store.close().await;

        // Reopen: everything is still there.
        let again = db.store().await;
        assert_eq!(again.export().await.unwrap(), export);
        again.close().await;

        // Into a fresh database (with another data key), then out again: identical.
        let fresh = TestDb::new(backend).await;
        let target = fresh.store().await;
        let json = serde_json::to_string(&export).unwrap();
        let parsed: endwell_store::Export = serde_json::from_str(&json).unwrap();
        let counts = target.import(&parsed).await.unwrap();
        assert_eq!(counts.users, 2);
        assert_eq!(counts.contacts, 4);
        // The imported data works, not only reads back: the feed link opens, the held contact is released once.
        assert_eq!(
            target.user_by_feed_token("feed-token").await.unwrap().unwrap().id,
            sam.id
        );
        assert_eq!(target.receiving_worker(sam, e.id).await.unwrap().unwrap().id, sup.id);
        assert_eq!(target.export().await.unwrap(), export);
        assert_eq!(target.verify_events().await.unwrap(), export.events.len() as u64);
        // An export made before the office data existed still loads.
        let mut old: serde_json::Value = serde_json::to_value(&export).unwrap();
        old.as_object_mut().unwrap().remove("office");
        let old: endwell_store::Export = serde_json::from_value(old).unwrap();
        assert!(old.office.contacts.is_empty());
        // A second import is refused and changes nothing.
        assert!(matches!(target.import(&parsed).await, Err(StoreError::Conflict(_))));
        // A damaged log is refused.
        let mut bad = parsed.clone();
        bad.events[1].data = serde_json::json!({"tampered": true});
        let fresh2 = TestDb::new(backend).await;
        let t2 = fresh2.store().await;
        let err = t2.import(&bad).await.unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        for (s, d) in [(target, fresh), (t2, fresh2)] {
            s.close().await;
            d.cleanup().await;
        }
        db.cleanup().await;
    }
}

/// Contacts (one released in a digest, one waiting with its job), a
/// calendar, a feed link and a transfer to `to`, for the round trip.
async fn office_data(store: &Store, sam: Viewer, to: Viewer, engagement: endwell_core::EngagementId) {
    use endwell_core::decision::{Contact, Policy};
    use endwell_core::message::Message;
    use endwell_core::terms::Channel;
    use endwell_store::contacts::NewContact;
    let terms = Terms::from_toml(TERMS).unwrap();
    for (i, at) in ["2026-11-30T20:00:00Z", "2026-11-30T21:00:00Z", "2026-12-01T10:00:00Z"]
        .iter()
        .enumerate()
    {
        let at: jiff::Timestamp = at.parse().unwrap();
        let m = Message::plain(Some("alex@example.net"), &format!("Message {i}"));
        let decision = Policy::around(&terms, at).decide(&Contact {
            channel: Channel::Sms,
            state: EngagementState::Active,
            message: &m,
            labels: &[],
            at,
            last_reply: None,
        });
        store
            .record_contact(
                sam,
                NewContact {
                    practitioner_id: sam.id,
                    engagement_id: Some(engagement),
                    channel: Channel::Sms,
                    sender: "alex@example.net".into(),
                    subject: None,
                    body: m.body.clone(),
                    received_at: at,
                    labels: Vec::new(),
                    decision,
                },
            )
            .await
            .unwrap();
        if i == 0 {
            store.release_now(sam).await.unwrap().unwrap();
        }
    }
    store
        .add_calendar(
            sam,
            "Leave",
            Some("https://calendar.example/secret.ics"),
            endwell_store::calendars::CalendarRead {
                source: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into(),
                zone: "Europe/London".parse().unwrap(),
                closures: Terms::from_toml(TERMS).unwrap().exceptions,
                notes: vec!["a note".into()],
            },
        )
        .await
        .unwrap();
    store.new_feed_token(sam, "feed-token").await.unwrap();
    // A crisis, acknowledged; a boundary incident from one contact and a
    // proposal set aside on another.
    let at: jiff::Timestamp = "2026-12-01T22:00:00Z".parse().unwrap();
    let m = Message::plain(Some("alex@example.net"), "I want to die");
    let labels = vec![endwell_core::triage::Finding {
        label: endwell_core::triage::Label::Crisis,
        score: 1.0,
        evidence: vec!["want to die".into()],
    }];
    let decision = Policy::around(&terms, at).decide(&Contact {
        channel: Channel::Sms,
        state: EngagementState::Active,
        message: &m,
        labels: &labels,
        at,
        last_reply: None,
    });
    let crisis = store
        .record_contact(
            sam,
            NewContact {
                practitioner_id: sam.id,
                engagement_id: Some(engagement),
                channel: Channel::Sms,
                sender: "alex@example.net".into(),
                subject: None,
                body: m.body.clone(),
                received_at: at,
                labels,
                decision,
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .acknowledge_crisis(sam, crisis.id)
            .await
            .unwrap()
            .acknowledged_at
            .is_some()
    );
    let inbox = store
        .inbox(
            sam,
            endwell_store::contacts::InboxQuery {
                per_page: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let other = inbox.iter().find(|c| c.id != crisis.id).unwrap().id;
    store
        .record_incident(
            sam,
            engagement,
            endwell_store::boundary::NewIncident {
                category: endwell_core::boundary::Category::GiftsOrMoney,
                initiated_by: endwell_core::boundary::InitiatedBy::Client,
                what_happened: "Offered a gift".into(),
                response: "Declined kindly".into(),
                contact_id: Some(other),
            },
        )
        .await
        .unwrap();
    store
        .dismiss_proposal(sam, crisis.id, endwell_core::boundary::Category::SocialMedia)
        .await
        .unwrap();
    store
        .transition(sam, engagement, Transition::Activate, "")
        .await
        .unwrap();
    store
        .transition_to(sam, engagement, Transition::Transfer, "", Some(to.id))
        .await
        .unwrap();
}

on_every_backend!(decision_inputs_follow_versions_and_state, |store: Store| async move {
    let sam = user(&store, "sam@clinic.example", Role::Practitioner, None).await;
    let dana = user(&store, "dana@clinic.example", Role::Practitioner, None).await;
    let c = store.create_client(sam, client("Ada")).await.unwrap();
    let e = store.create_engagement(sam, c.id, fields("CBT")).await.unwrap();

    // Before any terms: the engagement, no terms.
    let i = store.decision_inputs(sam, e.id, "ada@example.org").await.unwrap();
    assert_eq!(i.engagement, e);
    assert!(i.terms.is_none() && i.last_reply.is_none());
    assert!(matches!(
        store.decision_inputs(dana, e.id, "ada@example.org").await,
        Err(StoreError::NotFound)
    ));

    // A proposed version is in force until one is consented to; then the
    // latest consented one, also when a newer one is only proposed.
    let terms = Terms::from_toml(TERMS).unwrap();
    store.add_agreement(sam, e.id, terms.clone(), "v1").await.unwrap();
    let i = store.decision_inputs(sam, e.id, "ada@example.org").await.unwrap();
    assert_eq!(*i.terms.unwrap(), terms);
    store
        .record_consent(sam, e.id, 1, "Ada", ConsentMethod::InPerson)
        .await
        .unwrap();
    let mut t2 = terms.clone();
    t2.response_time_hours = 48;
    store.add_agreement(sam, e.id, t2.clone(), "v2").await.unwrap();
    let i = store.decision_inputs(sam, e.id, "ada@example.org").await.unwrap();
    assert_eq!(*i.terms.unwrap(), terms, "v2 is not agreed yet");
    store
        .record_consent(sam, e.id, 2, "Ada", ConsentMethod::InPerson)
        .await
        .unwrap();
    let i = store.decision_inputs(sam, e.id, "ada@example.org").await.unwrap();
    assert_eq!(*i.terms.unwrap(), t2);
    assert_eq!(store.terms_in_force(sam, e.id).await.unwrap().1, Some(t2));

    // The state is read every time: an ending is seen at once.
    store.transition(sam, e.id, Transition::Activate, "").await.unwrap();
    store.transition(sam, e.id, Transition::BeginEnding, "").await.unwrap();
    store.transition(sam, e.id, Transition::End, "").await.unwrap();
    let i = store.decision_inputs(sam, e.id, "ada@example.org").await.unwrap();
    assert_eq!(i.engagement.state, EngagementState::Ended);
});
