//! Office hours over HTTP: the contact API (record, dry run, held queue,
//! release, availability) and the pages (this week, inbox, held, preview),
//! on every backend.

use endwell_core::model::{ConsentMethod, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{TERMS, TestApp, hidden};
use crate::on_every_backend;

const EVENING_MAIL: &str = "Return-Path: <alex@example.net>\nFrom: Alex <alex@example.net>\nTo: sam@clinic.example\nSubject: Thursday\nMessage-ID: <m1@example.net>\n\nCould we move Thursday?\n";

/// An engagement of `owner`'s with DESIGN.md's terms, consented.
pub(crate) async fn engagement_with_terms(app: &TestApp, owner: &endwell_core::model::User) -> String {
    let (_, e) = app.client_with_engagement(owner).await;
    let v = endwell_core::access::Viewer {
        id: owner.id,
        role: owner.role,
    };
    app.store
        .add_agreement(v, e.id, endwell_core::Terms::from_toml(TERMS).unwrap(), "v1")
        .await
        .unwrap();
    app.store
        .record_consent(v, e.id, 1, "Ada", ConsentMethod::Written)
        .await
        .unwrap();
    e.id.to_string()
}

on_every_backend!(
    an_engagement_just_ended_is_decided_as_ended,
    |app: &TestApp| async move {
        let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
        let eid = engagement_with_terms(app, &sam).await;
        let token = app.token(&sam).await;
        let api = reqwest::Client::new();
        let post = |path: String, body: Value| api.post(app.url(&path)).bearer_auth(&token).json(&body).send();
        let contact = || {
            post(
                format!("/api/v1/engagements/{eid}/contacts"),
                json!({"channel": "email", "message": EVENING_MAIL, "at": "2026-12-01T10:00:00Z"}),
            )
        };
        for step in ["activate", "begin_ending"] {
            let r = post(
                format!("/api/v1/engagements/{eid}/transitions"),
                json!({"transition": step}),
            )
            .await
            .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{step}");
        }
        // Warm every cache with the engagement still open.
        for _ in 0..3 {
            let r = contact().await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            assert_eq!(r.json::<Value>().await.unwrap()["action"], "deliver");
        }
        let r = post(
            format!("/api/v1/engagements/{eid}/transitions"),
            json!({"transition": "end"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // The very next contact knows.
        let r = contact().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.json::<Value>().await.unwrap()["action"], "ended");
    }
);

on_every_backend!(contact_api_records_decides_and_releases, |app: &TestApp| async move {
    let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
    let dana = app.user("dana@clinic.example", Role::Practitioner, None).await;
    let eid = engagement_with_terms(app, &sam).await;
    let token = app.token(&sam).await;
    let api = reqwest::Client::new();
    let post = |body: Value| {
        api.post(app.url(&format!("/api/v1/engagements/{eid}/contacts")))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    // A dry run decides without recording.
    let r = post(json!({"channel": "email", "message": EVENING_MAIL, "at": "2026-11-30T20:00:00Z", "dry_run": true}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["action"], "auto_reply");
    assert_eq!(d["id"], Value::Null);
    assert_eq!(d["release_at"], "2026-12-01T09:00:00Z");
    assert!(
        d["reply"]["body"]
            .as_str()
            .unwrap()
            .contains("Thursday 3 December 2026 at 17:00")
    );

    // Recorded: the first gets the reply, the second is only held.
    let r = post(json!({"channel": "email", "message": EVENING_MAIL, "at": "2026-11-30T20:00:00Z"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["action"], "auto_reply");
    let r = post(json!({"channel": "email", "message": EVENING_MAIL, "at": "2026-11-30T21:00:00Z"}))
        .await
        .unwrap();
    let second: Value = r.json().await.unwrap();
    assert_eq!(second["action"], "hold", "{second}");
    // A crisis by SMS is never held.
    let r = post(json!({"channel": "sms", "from": "+447700900123", "message": "I want to end my life", "at": "2026-11-30T21:30:00Z"})).await.unwrap();
    let crisis: Value = r.json().await.unwrap();
    assert_eq!(crisis["action"], "crisis");
    assert_eq!(crisis["labels"], json!(["crisis"]));
    assert!(crisis["reply"]["body"].as_str().unwrap().contains("Samaritans"));

    // Bad input: clear errors naming the field, nothing recorded.
    let r = post(json!({"channel": "fax", "message": "hi"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["field"], "channel");
    let r = post(json!({"channel": "email", "message": "hi", "at": "yesterday"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(json!({"channel": "email"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let held: Value = app.get_json("/api/v1/held", &token).await;
    assert_eq!(held.as_array().unwrap().len(), 2);
    let list: Value = app
        .get_json(&format!("/api/v1/engagements/{eid}/contacts"), &token)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 3);

    // Another practitioner: the engagement does not exist for them.
    let other = app.token(&dana).await;
    let r = app
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/engagements/{eid}/contacts"),
            &other,
            Some(json!({"channel": "email", "message": "hi"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.api(reqwest::Method::GET, "/api/v1/held", &other, None).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));

    let a: Value = app
        .get_json(
            &format!("/api/v1/engagements/{eid}/availability?at=2026-11-30T20:00:00Z"),
            &token,
        )
        .await;
    assert_eq!(
        a,
        json!({"open": false, "next_open": "2026-12-01T09:00:00Z", "next_close": null, "reply_by": "2026-12-03T17:00:00Z"})
    );

    // Release: once.
    let r = app
        .api(reqwest::Method::POST, "/api/v1/held/release", &token, None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let digest: Value = r.json().await.unwrap();
    assert_eq!(digest["contact_count"], 2);
    let r = app
        .api(reqwest::Method::POST, "/api/v1/held/release", &token, None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Without a token: 401.
    let r = api.get(app.url("/api/v1/held")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
});

on_every_backend!(
    office_pages_show_week_inbox_held_and_preview,
    |app: &TestApp| async move {
        let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
        let eid = engagement_with_terms(app, &sam).await;
        let b = app.login("sam@clinic.example").await;

        let week = app.page(&b, "/week").await;
        assert!(week.contains("This week"), "{week}");
        assert!(week.contains("Europe/London"));
        assert!(
            week.contains("09:00–12:30, 13:30–17:00") || week.contains("09:00–17:00"),
            "{week}"
        );

        // Preview: nothing recorded.
        let page = app.page(&b, "/preview").await;
        let csrf = hidden(&page, "csrf");
        let form = [
            ("csrf", csrf.as_str()),
            ("engagement", eid.as_str()),
            ("channel", "email"),
            ("from", ""),
            ("at", "2026-11-30T20:00:00Z"),
            ("message", EVENING_MAIL),
        ];
        let r = app.post_form(&b, "/preview", &form).await;
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(html.contains("Held, auto-replied"), "{html}");
        assert!(html.contains("The sender would receive"));
        assert!(html.contains("Samaritans: 116 123"));
        assert!(app.page(&b, "/inbox").await.contains("No contacts yet"));

        // Record it: it shows in the inbox and the held queue.
        let mut rec = form.to_vec();
        rec.push(("record", "yes"));
        let r = app.post_form(&b, "/preview", &rec).await;
        assert!(r.text().await.unwrap().contains("Recorded"));
        let inbox = app.page(&b, "/inbox").await;
        assert!(inbox.contains("Could we move Thursday?"), "{inbox}");
        assert!(inbox.contains("outside office hours"));
        let held = app.page(&b, "/held").await;
        assert!(held.contains("Release all 1 now"), "{held}");

        // Release without the CSRF token: refused, nothing released.
        let r = app.post_form(&b, "/held/release", &[("csrf", "wrong")]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = app.post_form(&b, "/held/release", &[("csrf", csrf.as_str())]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let held = app.page(&b, "/held?released=1").await;
        assert!(held.contains("Released 1 held message."), "{held}");
        assert!(held.contains("Nothing is held."));

        // A bad time is named, not a crash.
        let bad = [
            ("csrf", csrf.as_str()),
            ("engagement", eid.as_str()),
            ("channel", "email"),
            ("at", "tomorrow"),
            ("message", "hi"),
        ];
        let r = app.post_form(&b, "/preview", &bad).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("is not a time"));
    }
);

on_every_backend!(
    transferred_engagements_forward_to_the_receiver,
    |app: &TestApp| async move {
        let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
        let dana = app.user("dana@clinic.example", Role::Practitioner, None).await;
        let eid = engagement_with_terms(app, &sam).await;
        let token = app.token(&sam).await;
        let api = reqwest::Client::new();
        let step = |body: Value| {
            api.post(app.url(&format!("/api/v1/engagements/{eid}/transitions")))
                .bearer_auth(&token)
                .json(&body)
                .send()
        };
        assert_eq!(
            step(json!({"transition": "activate"})).await.unwrap().status(),
            StatusCode::OK
        );
        // Only a transfer goes to someone, and only to an account here.
        let r = step(json!({"transition": "begin_ending", "to": "dana@clinic.example"}))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let r = step(json!({"transition": "transfer", "to": "nobody@clinic.example"}))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.json::<Value>().await.unwrap()["field"], "to");
        let r =
            step(json!({"transition": "transfer", "to": "dana@clinic.example", "note": "Moving to the evening team"}))
                .await
                .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["state"], "transferred");

        // A message for the old engagement goes to Dana's inbox, not Sam's.
        let r = app
            .api(
                reqwest::Method::POST,
                &format!("/api/v1/engagements/{eid}/contacts"),
                &token,
                Some(json!({"channel": "email", "message": EVENING_MAIL, "at": "2026-12-01T10:00:00Z"})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let d: Value = r.json().await.unwrap();
        assert_eq!(d["action"], "forward");
        assert!(d["reasons"].to_string().contains("forwarded to dana"), "{d}");
        let sams = app
            .get_json(&format!("/api/v1/engagements/{eid}/contacts"), &token)
            .await;
        assert_eq!(sams.as_array().unwrap().len(), 0, "not kept in Sam's record");
        let b = app.login("dana@clinic.example").await;
        let inbox = app.page(&b, "/inbox").await;
        assert!(inbox.contains("Could we move Thursday?"), "{inbox}");
        assert!(inbox.contains("Forwarded"));
        let sb = app.login("sam@clinic.example").await;
        assert!(!app.page(&sb, "/inbox").await.contains("Could we move Thursday?"));
        let _ = dana;
        // The history says who took it on.
        let page = app.page(&sb, &format!("/engagements/{eid}")).await;
        assert!(page.contains("Transferred to dana"), "{page}");
    }
);

on_every_backend!(
    transfer_to_someone_outside_keeps_the_message,
    |app: &TestApp| async move {
        let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
        let _dana = app.user("dana@clinic.example", Role::Practitioner, None).await;
        let eid = engagement_with_terms(app, &sam).await;
        let b = app.login("sam@clinic.example").await;
        let page = app.page(&b, &format!("/engagements/{eid}")).await;
        let csrf = hidden(&page, "csrf");
        app.post_form(
            &b,
            &format!("/engagements/{eid}/transition"),
            &[("csrf", csrf.as_str()), ("transition", "activate")],
        )
        .await;
        let page = app.page(&b, &format!("/engagements/{eid}")).await;
        assert!(
            page.contains("Who takes the work on") && page.contains("Someone outside Endwell"),
            "{page}"
        );
        let r = app
            .post_form(
                &b,
                &format!("/engagements/{eid}/transition"),
                &[("csrf", csrf.as_str()), ("transition", "transfer"), ("to", "")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let token = app.token(&sam).await;
        let r = reqwest::Client::new()
            .post(app.url(&format!("/api/v1/engagements/{eid}/contacts")))
            .bearer_auth(&token)
            .json(&json!({"channel": "email", "message": EVENING_MAIL, "at": "2026-12-01T10:00:00Z"}))
            .send()
            .await
            .unwrap();
        let d: Value = r.json().await.unwrap();
        assert_eq!(d["action"], "forward");
        assert!(
            d["reasons"].to_string().contains("stays here for you to pass on"),
            "{d}"
        );
        assert!(app.page(&b, "/inbox").await.contains("Could we move Thursday?"));
    }
);

on_every_backend!(
    messages_arriving_together_get_one_automatic_reply,
    |app: &TestApp| async move {
        let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
        let eid = engagement_with_terms(app, &sam).await;
        let token = app.token(&sam).await;
        let api = reqwest::Client::new();
        // Eight messages from one sender at once, all in the same closed spell.
        let posts = (0..8).map(|i| {
        let api = api.clone();
        let url = app.url(&format!("/api/v1/engagements/{eid}/contacts"));
        let token = token.clone();
        async move {
            let r = api
                .post(url)
                .bearer_auth(token)
                .json(&json!({"channel": "email", "message": EVENING_MAIL.replace("m1@", &format!("m{i}@")), "at": "2026-11-30T20:00:00Z"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.unwrap()["action"].as_str().unwrap().to_string()
        }
    });
        let actions = futures_join_all(posts).await;
        assert_eq!(actions.iter().filter(|a| *a == "auto_reply").count(), 1, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| *a == "hold").count(), 7, "{actions:?}");
    }
);

/// Run futures together (a join_all without another dependency).
async fn futures_join_all<F: std::future::Future<Output = String> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<String> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
