//! Triage over HTTP (issue 4): the triage endpoint, crisis alerts until
//! acknowledged, and boundary incidents proposed from a contact's labels and
//! recorded (or set aside) only by the practitioner; on every backend.

use endwell_core::model::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::hidden;
use crate::office::engagement_with_terms;
use crate::on_every_backend;

on_every_backend!(triage_endpoint_has_designs_shape, |app: &TestApp| async move {
    let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
    let token = app.token(&sam).await;
    let r = app
        .api(
            Method::POST,
            "/api/v1/triage",
            &token,
            Some(json!({"message": "Subject: hi\n\nI got you a little gift, and I dont want to be here anymore"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["crisis"], true);
    assert_eq!(out["labels"][0]["label"], "crisis");
    assert_eq!(out["labels"][0]["evidence"], json!(["dont want to be here anymore"]));
    assert_eq!(out["labels"][1]["label"], "gift_or_money");
    assert!(out["labels"][1]["score"].as_f64().unwrap() <= 1.0);
    // Bad input names the field; no token, no triage.
    let r = app
        .api(Method::POST, "/api/v1/triage", &token, Some(json!({"message": " "})))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .api(Method::POST, "/api/v1/triage", &token, Some(json!({"text": "hi"})))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .api(Method::POST, "/api/v1/triage", "nope", Some(json!({"message": "hi"})))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
});

on_every_backend!(a_crisis_is_an_alert_until_acknowledged, |app: &TestApp| async move {
    let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
    let dana = app.user("dana@clinic.example", Role::Practitioner, None).await;
    let eid = engagement_with_terms(app, &sam).await;
    let token = app.token(&sam).await;
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/engagements/{eid}/contacts"),
            &token,
            Some(json!({"channel": "sms", "from": "+447700900123", "message": "i cant do this anymore, ive been saving up my tablets", "at": "2026-11-30T21:30:00Z"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["action"], "crisis", "{c}");
    assert_eq!(c["acknowledged_at"], Value::Null);
    let id = c["id"].as_str().unwrap().to_string();

    // Every page says so, and the inbox lists it first.
    let b = app.login("sam@clinic.example").await;
    let week = app.page(&b, "/week").await;
    assert!(week.contains("may be a crisis has not been acknowledged"), "{week}");
    let inbox = app.page(&b, "/inbox").await;
    assert!(inbox.contains("I have read this and acted"));
    let alerts: Value = app.get_json("/api/v1/alerts", &token).await;
    assert_eq!(alerts.as_array().unwrap().len(), 1);

    // Another practitioner cannot acknowledge it (nor see it).
    let dana_token = app.token(&dana).await;
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/contacts/{id}/acknowledge"),
            &dana_token,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The form needs the session's CSRF token.
    let r = app
        .post_form(&b, &format!("/contacts/{id}/acknowledge"), &[("csrf", "wrong")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let csrf = hidden(&inbox, "csrf");
    let r = app
        .post_form(&b, &format!("/contacts/{id}/acknowledge"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let week = app.page(&b, "/week").await;
    assert!(!week.contains("not been acknowledged"));
    let alerts: Value = app.get_json("/api/v1/alerts", &token).await;
    assert!(alerts.as_array().unwrap().is_empty());
    // Again is fine; a contact that is not a crisis is refused.
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/contacts/{id}/acknowledge"),
            &token,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.unwrap()["acknowledged_at"].is_string());
});

on_every_backend!(
    boundary_labels_propose_and_the_practitioner_decides,
    |app: &TestApp| async move {
        let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
        let eid = engagement_with_terms(app, &sam).await;
        let token = app.token(&sam).await;
        let record = |message: &'static str| {
            let path = format!("/api/v1/engagements/{eid}/contacts");
            let token = token.clone();
            async move {
                let r = app
                .api(
                    Method::POST,
                    &path,
                    &token,
                    Some(json!({"channel": "portal", "from": "ada", "message": message, "at": "2026-12-01T10:00:00Z"})),
                )
                .await;
                assert_eq!(r.status(), StatusCode::CREATED);
                r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
            }
        };
        let gift = record("I've bought you a little gift to say thank you").await;
        let invite = record("Would you like to come to my wedding in June?").await;
        record("Here is the invoice question: was March paid?").await;

        let b = app.login("sam@clinic.example").await;
        let inbox = app.page(&b, "/inbox").await;
        assert!(
            inbox.contains("Triage suggests a boundary incident, <strong>gifts or money</strong>"),
            "{inbox}"
        );
        assert!(inbox.contains("<strong>dual or multiple relationship</strong>"));
        assert_eq!(
            inbox.matches("Triage suggests").count(),
            2,
            "payment is shown, not proposed"
        );
        // Nothing is logged until the practitioner records it.
        let none: Value = app
            .get_json(&format!("/api/v1/engagements/{eid}/incidents"), &token)
            .await;
        assert!(none.as_array().unwrap().is_empty());

        let csrf = hidden(&inbox, "csrf");
        let r = app
            .post_form(
                &b,
                &format!("/contacts/{gift}/incidents"),
                &[
                    ("csrf", csrf.as_str()),
                    ("category", "gifts_or_money"),
                    ("what_happened", "Ada offered a gift."),
                    ("response", "Thanked her and explained the gift policy."),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = app
            .post_form(
                &b,
                &format!("/contacts/{invite}/dismissals"),
                &[("csrf", csrf.as_str()), ("category", "dual_or_multiple_relationship")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let inbox = app.page(&b, "/inbox").await;
        assert_eq!(
            inbox.matches("Triage suggests").count(),
            0,
            "answered proposals are gone"
        );

        let list: Value = app
            .get_json(&format!("/api/v1/engagements/{eid}/incidents"), &token)
            .await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["category"], "gifts_or_money");
        assert_eq!(list[0]["response"], "Thanked her and explained the gift policy.");
        let page = app.page(&b, &format!("/engagements/{eid}")).await;
        assert!(page.contains("Ada offered a gift."));
        assert!(page.contains("Boundary incident recorded"), "in the history");

        // The same contact and category twice is a conflict; bad input is named.
        let again = app
            .api(
                Method::POST,
                &format!("/api/v1/engagements/{eid}/incidents"),
                &token,
                Some(json!({"category": "gifts_or_money", "what_happened": "again", "contact_id": gift})),
            )
            .await;
        assert_eq!(again.status(), StatusCode::CONFLICT);
        let bad = app
            .api(
                Method::POST,
                &format!("/api/v1/engagements/{eid}/incidents"),
                &token,
                Some(json!({"category": "gifts", "what_happened": "x"})),
            )
            .await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().await.unwrap().contains("gifts_or_money"));
        let empty = app
            .api(
                Method::POST,
                &format!("/api/v1/engagements/{eid}/incidents"),
                &token,
                Some(json!({"category": "scope_creep", "what_happened": " "})),
            )
            .await;
        assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Someone else's engagement: not found.
        let dana = app.user("dana@clinic.example", Role::Practitioner, None).await;
        let dana_token = app.token(&dana).await;
        let r = app
            .api(
                Method::POST,
                &format!("/api/v1/engagements/{eid}/incidents"),
                &dana_token,
                Some(json!({"category": "other", "what_happened": "x"})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // Export and import keep incidents, dismissals and acknowledgements.
        let data = app.store.export().await.unwrap();
        assert_eq!(data.office.incidents.len(), 1);
        assert_eq!(data.office.dismissals.len(), 1);
    }
);
