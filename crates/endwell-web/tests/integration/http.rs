//! HTTP integration tests: pages and API through a real HTTP client with a
//! cookie jar, on SQLite and (when ENDWELL_TEST_POSTGRES is set) PostgreSQL.

use endwell_core::model::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{TERMS, TestApp, csrf_of, hidden, location};
use crate::on_every_backend;

on_every_backend!(login_logout_and_redirects, |app: &TestApp| async move {
    app.user("sam@clinic.example", Role::Practitioner, None).await;
    let b = TestApp::browser();
    let r = b.get(app.url("/caseload?state=ended")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=%2Fcaseload%3Fstate%3Dended");

    // Wrong password: a clear message, no session.
    let csrf = csrf_of(&b, app.url("/login")).await;
    let r = app
        .post_form(
            &b,
            "/login",
            &[
                ("csrf", csrf.as_str()),
                ("email", "sam@clinic.example"),
                ("password", "wrong"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("do not match an account"));

    let b = app.login("sam@clinic.example").await;
    let page = b.get(app.url("/caseload")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Caseload") && html.contains("sam"));
    let csrf = hidden(&html, "csrf");
    let r = app.post_form(&b, "/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(location(&r), "/login");
    let r = b.get(app.url("/caseload")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "session ended");
    // The stylesheet is served by Endwell itself.
    let css = b.get(app.url("/assets/app.css")).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
});

on_every_backend!(
    forms_without_the_right_csrf_token_are_refused,
    |app: &TestApp| async move {
        app.user("sam@clinic.example", Role::Practitioner, None).await;
        // Login without the double-submit cookie.
        let r = TestApp::browser()
            .post(app.url("/login"))
            .form(&[
                ("csrf", "made-up"),
                ("email", "sam@clinic.example"),
                ("password", "a long enough password"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);

        let b = app.login("sam@clinic.example").await;
        for csrf in ["", "wrong-token"] {
            let r = app
                .post_form(&b, "/clients", &[("csrf", csrf), ("given_name", "Ada")])
                .await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            assert!(r.text().await.unwrap().contains("nothing was saved"));
        }
        let r = app.page(&b, "/clients").await;
        assert!(!r.contains("Ada"), "nothing was created");
    }
);

on_every_backend!(full_flow_in_the_browser, |app: &TestApp| async move {
    app.user("sam@clinic.example", Role::Practitioner, None).await;
    let b = app.login("sam@clinic.example").await;
    let csrf = csrf_of(&b, app.url("/clients/new")).await;

    // A mistake keeps what was typed and names the field.
    let r = app
        .post_form(
            &b,
            "/clients",
            &[
                ("csrf", csrf.as_str()),
                ("given_name", "Ada"),
                ("emails", "not-an-email"),
                ("vulnerability_notes", "Lives alone"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("not-an-email") && html.contains("Lives alone"));
    assert!(
        html.contains(
            "id=\"emails\" name=\"emails\" rows=\"2\" aria-describedby=\"emails_hint\" aria-invalid=\"true\""
        )
    );

    let r = app
        .post_form(
            &b,
            "/clients",
            &[
                ("csrf", csrf.as_str()),
                ("given_name", "Ada"),
                ("family_name", "Okafor"),
                ("emails", "ada@example.org"),
                ("vulnerability_notes", "Lives alone"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let client_url = location(&r);
    let html = app.page(&b, &client_url).await;
    assert!(html.contains("Ada Okafor") && html.contains("ada@example.org") && html.contains("Lives alone"));

    // Edit.
    let r = app
        .post_form(
            &b,
            &client_url,
            &[
                ("csrf", csrf.as_str()),
                ("given_name", "Ada"),
                ("family_name", "Okafor"),
                ("preferred_name", "Addy"),
                ("emails", "ada@example.org"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.page(&b, &client_url).await.contains("Addy Okafor"));

    // Open an engagement.
    let r = app
        .post_form(
            &b,
            &format!("{client_url}/engagements"),
            &[
                ("csrf", csrf.as_str()),
                ("title", "CBT for panic"),
                ("next_review", "2026-12-01"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let eng = location(&r);
    let html = app.page(&b, &eng).await;
    assert!(html.contains("CBT for panic") && html.contains("proposed") && html.contains("Start the work"));

    // Starting before the terms are agreed is refused, with the reason.
    let r = app
        .post_form(
            &b,
            &format!("{eng}/transition"),
            &[("csrf", csrf.as_str()), ("transition", "activate")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("consent"));

    // The terms editor: a bad range is named and everything typed stays.
    let new_terms = app.page(&b, &format!("{eng}/agreements/new")).await;
    assert!(new_terms.contains("<option selected>Europe/London</option>"));
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.clone()),
        ("note".into(), "Initial terms".into()),
        ("timezone".into(), "Europe/London".into()),
        ("hours_mon".into(), "09:00-12:30, 13:30-17:00".into()),
        ("hours_tue".into(), "17:00-09:00".into()),
        ("crisis_resources".into(), "Samaritans: 116 123".into()),
        ("auto_reply_enabled".into(), "on".into()),
        ("auto_reply_period".into(), "closed_period".into()),
        ("exceptions".into(), "2026-12-24 to 2026-12-28: Holiday".into()),
        ("ends_on".into(), "2027-06-30".into()),
    ];
    let r = app.post_form(&b, &format!("{eng}/agreements"), &form).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("hours_tue") && html.contains("ends before it starts"),
        "{html}"
    );
    assert!(html.contains("Samaritans: 116 123"));
    form[4].1 = "09:00-17:00".into();
    let r = app.post_form(&b, &format!("{eng}/agreements"), &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{eng}/agreements/1"));
    let html = app.page(&b, &format!("{eng}/agreements/1")).await;
    assert!(html.contains("Record consent") && html.contains("09:00-12:30, 13:30-17:00"));
    let r = app
        .post_form(
            &b,
            &format!("{eng}/agreements/1/consent"),
            &[
                ("csrf", csrf.as_str()),
                ("given_by", "Ada Okafor"),
                ("method", "in_person"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = app
        .post_form(
            &b,
            &format!("{eng}/transition"),
            &[
                ("csrf", csrf.as_str()),
                ("transition", "activate"),
                ("note", "First session booked"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let html = app.page(&b, &eng).await;
    assert!(
        html.contains("state-active") && html.contains("30 Jun 2027"),
        "planned end from the agreement"
    );
    let hist = app.page(&b, &format!("{eng}/history")).await;
    for words in [
        "Engagement opened",
        "New agreement version",
        "Consent recorded",
        "from proposed to active",
        "First session booked",
    ] {
        assert!(hist.contains(words), "history lacks {words}");
    }
    let found = app.page(&b, "/clients?q=okaf").await;
    assert!(found.contains("Addy Okafor"));
    let none = app.page(&b, "/clients?q=zz").await;
    assert!(none.contains("No client's name contains “zz”"));
    let caseload = app.page(&b, "/caseload").await;
    assert!(caseload.contains("Addy Okafor") && caseload.contains("CBT for panic"));
});

on_every_backend!(nobody_sees_what_is_not_theirs, |app: &TestApp| async move {
    let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
    let kim = app.user("kim@clinic.example", Role::Practitioner, None).await;
    let lee = app.user("lee@clinic.example", Role::Supervisor, None).await;
    let (c, e) = app.client_with_engagement(&sam).await;

    let kb = app.login("kim@clinic.example").await;
    for path in [
        format!("/engagements/{}", e.id),
        format!("/clients/{}", c.id),
        format!("/engagements/{}/history", e.id),
    ] {
        let r = kb.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let csrf = csrf_of(&kb, app.url("/clients")).await;
    let r = app
        .post_form(
            &kb,
            &format!("/engagements/{}/transition", e.id),
            &[("csrf", csrf.as_str()), ("transition", "withdraw")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!app.page(&kb, "/caseload?state=proposed").await.contains("Ada"));

    let kt = app.token(&kim).await;
    let api = reqwest::Client::new();
    for path in [
        format!("/api/v1/engagements/{}", e.id),
        format!("/api/v1/clients/{}", c.id),
        format!("/api/v1/engagements/{}/events", e.id),
    ] {
        let r = api.get(app.url(&path)).bearer_auth(&kt).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");
    }
    // A supervisor not named as Sam's supervisor sees nothing either.
    let lt = app.token(&lee).await;
    let r = api
        .get(app.url(&format!("/api/v1/engagements/{}", e.id)))
        .bearer_auth(&lt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
});

on_every_backend!(api_round_trip, |app: &TestApp| async move {
    let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
    let t = app.token(&sam).await;
    let api = reqwest::Client::new();
    let get = |p: &str| api.get(app.url(p)).bearer_auth(&t);
    let post = |p: &str, body: Value| api.post(app.url(p)).bearer_auth(&t).json(&body);

    let r = api.get(app.url("/api/v1/clients")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = api
        .get(app.url("/api/v1/clients"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get("/api/v1/me").send().await.unwrap().json::<Value>().await.unwrap()["email"],
        "sam@clinic.example"
    );

    // Invalid input names the field.
    let r = post("/api/v1/clients", json!({"family_name": "Okafor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["field"], "given_name", "{body}");
    let r = post("/api/v1/clients", json!({"given_name": "Ada", "emails": ["nope"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "emails");
    let r = post("/api/v1/clients", json!({"given_name": "Ada", "shoe_size": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("shoe_size")
    );
    let r = api
        .post(app.url("/api/v1/clients"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = post("/api/v1/clients", json!({"given_name": "Ada", "family_name": "Okafor", "emails": ["ada@example.org"], "vulnerability_notes": "Lives alone"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let client: Value = r.json().await.unwrap();
    let cid = client["id"].as_str().unwrap().to_string();
    let r = api
        .put(app.url(&format!("/api/v1/clients/{cid}")))
        .bearer_auth(&t)
        .json(&json!({"given_name": "Ada", "family_name": "Okafor-Reid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        get(&format!("/api/v1/clients/{cid}"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["display_name"],
        "Ada Okafor-Reid"
    );
    let list: Value = get("/api/v1/clients?q=reid")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["id"], cid.as_str());
    assert!(list["next_after"].is_null());
    assert_eq!(
        get("/api/v1/clients/0195f3a2-7c1e-7000-8000-000000000000")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/api/v1/clients/garbage").send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let r = post(
        "/api/v1/engagements",
        json!({"client_id": cid, "title": "CBT", "next_review": "31/12/2026"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "next_review");
    let r = post("/api/v1/engagements", json!({"client_id": cid, "title": "CBT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let eng: Value = r.json().await.unwrap();
    let eid = eng["id"].as_str().unwrap().to_string();
    assert_eq!(eng["state"], "proposed");
    assert_eq!(eng["allowed_transitions"], json!(["activate", "withdraw"]));

    let r = post(
        &format!("/api/v1/engagements/{eid}/agreements"),
        json!({"terms_toml": "timezone = \"UTC\"\n[office_hours]\nmonday = []\n"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("monday")
    );
    let r = post(
        &format!("/api/v1/engagements/{eid}/agreements"),
        json!({"terms_toml": TERMS, "note": "Initial"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v1: Value = r.json().await.unwrap();
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["terms"]["timezone"], "Europe/London");
    // JSON terms round-trip as a second version.
    let r = post(
        &format!("/api/v1/engagements/{eid}/agreements"),
        json!({"terms": v1["terms"], "note": "Same again"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = post(
        &format!("/api/v1/engagements/{eid}/agreements/2/consent"),
        json!({"given_by": "Ada", "method": "written"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let r = post(
        &format!("/api/v1/engagements/{eid}/transitions"),
        json!({"transition": "end"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_transition");
    let r = post(
        &format!("/api/v1/engagements/{eid}/transitions"),
        json!({"transition": "fly"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(
        &format!("/api/v1/engagements/{eid}/transitions"),
        json!({"transition": "activate", "note": "Go"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "active");

    let list: Value = get("/api/v1/engagements?state=active")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["engagement"]["id"], eid);
    assert_eq!(list["counts"]["active"], 1);
    let bad = get("/api/v1/engagements?state=paused").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let agreements: Value = get(&format!("/api/v1/engagements/{eid}/agreements"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(agreements.as_array().unwrap().len(), 2);
    let events: Value = get(&format!("/api/v1/engagements/{eid}/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "engagement.transitioned",
            "agreement.consented",
            "agreement.versioned",
            "agreement.versioned",
            "engagement.created"
        ]
    );
    let r = api
        .put(app.url(&format!("/api/v1/engagements/{eid}")))
        .bearer_auth(&t)
        .json(&json!({"title": "CBT for panic", "next_review": "2027-01-10"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["next_review"], "2027-01-10");
});

#[tokio::test]
async fn openapi_document_describes_the_api_and_is_committed() {
    let app = TestApp::spawn("sqlite").await;
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/clients",
        "/api/v1/engagements/{id}/agreements",
        "/api/v1/engagements/{id}/events",
        "/api/v1/engagements/{id}/transitions",
    ] {
        assert!(doc["paths"].get(p).is_some(), "missing {p}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // docs/openapi.json is the generated document, kept in the repository so
    // changes to the API show in review. Regenerate: UPDATE_OPENAPI=1 cargo test.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == text,
        "docs/openapi.json is out of date: run UPDATE_OPENAPI=1 cargo test -p endwell-web --test integration"
    );
    app.finish().await;
}

on_every_backend!(password_guessing_is_slowed, |app: &TestApp| async move {
    app.user("sam@clinic.example", Role::Practitioner, None).await;
    let b = TestApp::browser();
    let attempt = |password: &'static str| {
        let b = b.clone();
        async move {
            let csrf = csrf_of(&b, app.url("/login")).await;
            app.post_form(
                &b,
                "/login",
                &[
                    ("csrf", csrf.as_str()),
                    ("email", "sam@clinic.example"),
                    ("password", password),
                ],
            )
            .await
        }
    };
    for _ in 0..endwell_web::throttle::MAX_FAILURES {
        assert_eq!(attempt("guess").await.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused for a while, with a clear reason.
    let r = attempt("a long enough password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("Too many failed attempts"));
});

on_every_backend!(
    supervisors_read_their_team_but_cannot_change_it,
    |app: &TestApp| async move {
        let lee = app.user("lee@clinic.example", Role::Supervisor, None).await;
        let sam = app.user("sam@clinic.example", Role::Practitioner, Some(lee.id)).await;
        let (c, e) = app.client_with_engagement(&sam).await;
        let b = app.login("lee@clinic.example").await;
        let caseload = app.page(&b, "/caseload?state=proposed").await;
        assert!(
            caseload.contains("Ada") && caseload.contains("Practitioner"),
            "the team's caseload, with whose it is"
        );
        let page = app.page(&b, &format!("/engagements/{}", e.id)).await;
        assert!(page.contains("only sam can change it"), "read-only notice");
        assert!(!page.contains("Start the work") && !page.contains("Edit details"));
        let csrf = hidden(&page, "csrf");
        let r = app
            .post_form(
                &b,
                &format!("/engagements/{}/transition", e.id),
                &[("csrf", csrf.as_str()), ("transition", "withdraw")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = b.get(app.url(&format!("/clients/{}/edit", c.id))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let t = app.token(&lee).await;
        let r = reqwest::Client::new()
            .post(app.url(&format!("/api/v1/engagements/{}/transitions", e.id)))
            .bearer_auth(&t)
            .json(&json!({"transition": "withdraw"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "forbidden");
    }
);
