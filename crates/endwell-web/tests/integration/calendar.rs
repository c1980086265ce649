//! Calendars over HTTP: an uploaded file and a subscribed address (served
//! by a real local HTTP server) close office hours for every engagement;
//! bad files and addresses are refused with a reason and nothing saved;
//! the private feed is served at its secret link and nowhere else.

use endwell_core::model::{ConsentMethod, Role};
use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use serde_json::Value;

use crate::app::{TERMS, TestApp, hidden, location};
use crate::on_every_backend;

/// A Tuesday at least a week ahead (the terms are open 09:00-17:00 then).
fn a_tuesday() -> jiff::civil::Date {
    let mut d = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap())
        .date()
        .checked_add(8.days())
        .unwrap();
    while d.weekday() != jiff::civil::Weekday::Tuesday {
        d = d.tomorrow().unwrap();
    }
    d
}

fn leave_ics(day: jiff::civil::Date, summary: &str) -> String {
    let next = day.tomorrow().unwrap();
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:leave-1@test\r\nDTSTAMP:20261101T000000Z\r\n\
         DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:{summary}\r\nTRANSP:OPAQUE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        day.strftime("%Y%m%d"),
        next.strftime("%Y%m%d")
    )
}

fn multipart(csrf: &str, name: &str, file: &str) -> (String, String) {
    let b = "----endwell-test-boundary";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leave.ics\"\r\nContent-Type: text/calendar\r\n\r\n{file}\r\n\
         --{b}--\r\n"
    );
    (format!("multipart/form-data; boundary={b}"), body)
}

/// A real HTTP server on loopback that serves `ics` at /cal.ics and 404 elsewhere.
async fn calendar_server(ics: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/cal.ics",
        axum::routing::get(move || {
            let ics = ics.clone();
            async move { ([("content-type", "text/calendar")], ics) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn open_at(app: &TestApp, token: &str, eid: &str, at: &str) -> bool {
    let r = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/engagements/{eid}/availability?at={at}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["open"].as_bool().unwrap()
}

on_every_backend!(calendars_close_office_hours, |app: &TestApp| async move {
    let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
    let dana = app.user("dana@clinic.example", Role::Practitioner, None).await;
    let (_, e) = app.client_with_engagement(&sam).await;
    let v = endwell_core::access::Viewer::of(&sam);
    app.store
        .add_agreement(v, e.id, endwell_core::Terms::from_toml(TERMS).unwrap(), "v1")
        .await
        .unwrap();
    app.store
        .record_consent(v, e.id, 1, "Ada", ConsentMethod::Written)
        .await
        .unwrap();
    let eid = e.id.to_string();
    let token = app.token(&sam).await;
    let tuesday = a_tuesday();
    let noon = format!("{tuesday}T12:00:00Z");
    let next_day = format!("{}T12:00:00Z", tuesday.tomorrow().unwrap());
    assert!(open_at(app, &token, &eid, &noon).await);

    let b = app.login("sam@clinic.example").await;
    let page = app.page(&b, "/calendar").await;
    assert!(page.contains("None yet"), "{page}");
    let csrf = hidden(&page, "csrf");

    // Not a calendar: refused with a reason, nothing saved.
    let (ct, body) = multipart(&csrf, "Leave", "this is a shopping list");
    let r = b
        .post(app.url("/calendar/upload"))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = r.text().await.unwrap();
    assert!(text.contains("not an iCalendar file"), "{text}");
    assert!(app.store.calendars(v).await.unwrap().is_empty());

    // Without the form's token: refused, nothing saved.
    let (ct, body) = multipart("forged", "Leave", &leave_ics(tuesday, "Annual leave"));
    let r = b
        .post(app.url("/calendar/upload"))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(app.store.calendars(v).await.unwrap().is_empty());

    // A real file: that Tuesday closes.
    let (ct, body) = multipart(&csrf, "Leave", &leave_ics(tuesday, "Annual leave"));
    let r = b
        .post(app.url("/calendar/upload"))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/calendar?done=added");
    assert!(!open_at(app, &token, &eid, &noon).await, "closed by the uploaded leave");
    assert!(open_at(app, &token, &eid, &next_day).await);
    let page = app.page(&b, "/calendar").await;
    assert!(page.contains("Annual leave"), "{page}");
    assert!(page.contains("uploaded file"));
    let week = app.page(&b, &format!("/week?engagement={eid}")).await;
    assert!(week.contains("Calendar"), "the nav links the calendar page");

    // A subscribed address served by a real server: the next day closes too.
    let server = calendar_server(leave_ics(tuesday.tomorrow().unwrap(), "Training")).await;
    let r = app
        .post_form(
            &b,
            "/calendar/subscribe",
            &[
                ("csrf", csrf.as_str()),
                ("name", "Work"),
                ("url", &format!("{server}/missing.ics")),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = r.text().await.unwrap();
    assert!(text.contains("404"), "{text}");
    assert_eq!(app.store.calendars(v).await.unwrap().len(), 1, "nothing saved");
    let r = app
        .post_form(
            &b,
            "/calendar/subscribe",
            &[("csrf", csrf.as_str()), ("name", "Work"), ("url", "calendar.ics")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post_form(
            &b,
            "/calendar/subscribe",
            &[
                ("csrf", csrf.as_str()),
                ("name", "Work"),
                ("url", &format!("{server}/cal.ics")),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        !open_at(app, &token, &eid, &next_day).await,
        "closed by the subscribed calendar"
    );
    let cals = app.store.calendars(v).await.unwrap();
    assert_eq!(cals.len(), 2);
    assert_eq!(cals[1].url.as_deref(), Some(format!("{server}/cal.ics").as_str()));

    // Read again now; another practitioner cannot, nor remove it.
    let sub = cals[1].id;
    let r = app
        .post_form(&b, &format!("/calendar/{sub}/refresh"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(location(&r), "/calendar?done=refreshed");
    let b2 = app.login("dana@clinic.example").await;
    let csrf2 = hidden(&app.page(&b2, "/calendar").await, "csrf");
    let r = app
        .post_form(&b2, &format!("/calendar/{sub}/remove"), &[("csrf", csrf2.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!app.page(&b2, "/calendar").await.contains("Training"));
    let _ = dana;

    // Removed: its closure no longer applies.
    let r = app
        .post_form(&b, &format!("/calendar/{sub}/remove"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(location(&r), "/calendar?done=removed");
    assert!(open_at(app, &token, &eid, &next_day).await);
});

on_every_backend!(private_feed_at_a_secret_link, |app: &TestApp| async move {
    let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
    let (_, e) = app.client_with_engagement(&sam).await;
    let v = endwell_core::access::Viewer::of(&sam);
    let mut terms = endwell_core::Terms::from_toml(TERMS).unwrap();
    terms.engagement.ends_on = Some("2027-06-30".parse().unwrap());
    app.store.add_agreement(v, e.id, terms, "v1").await.unwrap();
    app.store
        .record_consent(v, e.id, 1, "Ada", ConsentMethod::Written)
        .await
        .unwrap();
    app.store
        .transition(v, e.id, endwell_core::Transition::Activate, "")
        .await
        .unwrap();

    let b = app.login("sam@clinic.example").await;
    let page = app.page(&b, "/calendar").await;
    assert!(page.contains("Make my feed address"));
    let csrf = hidden(&page, "csrf");
    let r = app
        .post_form(&b, "/calendar/feed", &[("csrf", "forged"), ("action", "new")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .post_form(&b, "/calendar/feed", &[("csrf", csrf.as_str()), ("action", "new")])
        .await;
    assert_eq!(location(&r), "/calendar?done=feed");
    let page = app.page(&b, "/calendar").await;
    let link = page
        .split("id=\"feed_link\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    assert!(link.starts_with(&app.url("/feed/")) && link.ends_with(".ics"), "{link}");
    assert!(page.contains("webcal://"));

    // Calendar programs fetch it without logging in.
    let r = reqwest::get(&link).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/calendar; charset=utf-8");
    let ics = r.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(ics.contains("Planned ending (A.)"), "{ics}");
    assert!(ics.contains("Closed: Holiday"), "the terms' closures: {ics}");
    assert!(!ics.contains("Ada"), "clients by initials only");
    // It reads back through the core's import as the same closures.
    let back = endwell_core::calendar::import_ics(
        &ics,
        &"Europe/London".parse().unwrap(),
        "2026-01-01".parse().unwrap(),
        "2027-12-31".parse().unwrap(),
    )
    .unwrap();
    assert!(back.exceptions.iter().any(|x| x.reason == "Holiday"));

    // Unknown and replaced links are plain 404s; turning it off ends it.
    assert_eq!(
        reqwest::get(app.url("/feed/not-a-token.ics")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    app.post_form(&b, "/calendar/feed", &[("csrf", csrf.as_str()), ("action", "new")])
        .await;
    assert_eq!(reqwest::get(&link).await.unwrap().status(), StatusCode::NOT_FOUND);
    app.post_form(&b, "/calendar/feed", &[("csrf", csrf.as_str()), ("action", "off")])
        .await;
    assert!(app.page(&b, "/calendar").await.contains("Make my feed address"));
});

on_every_backend!(calendars_and_feed_over_the_api, |app: &TestApp| async move {
    let sam = app.user("sam@clinic.example", Role::Practitioner, None).await;
    let dana = app.user("dana@clinic.example", Role::Practitioner, None).await;
    let token = app.token(&sam).await;
    let other = app.token(&dana).await;
    let api = reqwest::Client::new();
    let tuesday = a_tuesday();

    // Neither or both of url and ics: 422 naming the field; not iCalendar: 422.
    let r = app
        .api(
            reqwest::Method::POST,
            "/api/v1/calendars",
            &token,
            Some(serde_json::json!({"name": "Leave"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "url");
    let r = app
        .api(
            reqwest::Method::POST,
            "/api/v1/calendars",
            &token,
            Some(serde_json::json!({"name": "Leave", "ics": "not a calendar"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A file's text, and a subscription from a real local server.
    let r = app
        .api(
            reqwest::Method::POST,
            "/api/v1/calendars",
            &token,
            Some(serde_json::json!({"name": "Leave", "ics": leave_ics(tuesday, "Annual leave")})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let file: Value = r.json().await.unwrap();
    assert_eq!(file["url"], Value::Null);
    assert_eq!(file["closures"][0]["from"], tuesday.to_string());
    assert_eq!(file["closures"][0]["reason"], "Annual leave");
    let server = calendar_server(leave_ics(tuesday, "Training")).await;
    let r = app
        .api(
            reqwest::Method::POST,
            "/api/v1/calendars",
            &token,
            Some(serde_json::json!({"name": "Work", "url": format!("{server}/cal.ics")})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sub: Value = r.json().await.unwrap();
    let sub_id = sub["id"].as_str().unwrap().to_string();
    let r = app
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/calendars/{sub_id}/refresh"),
            &token,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["last_error"], Value::Null);

    let list: Value = app.get_json("/api/v1/calendars", &token).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Dana sees none and cannot touch Sam's.
    let theirs: Value = app.get_json("/api/v1/calendars", &other).await;
    assert!(theirs.as_array().unwrap().is_empty());
    for (method, path) in [
        (reqwest::Method::DELETE, format!("/api/v1/calendars/{sub_id}")),
        (reqwest::Method::POST, format!("/api/v1/calendars/{sub_id}/refresh")),
    ] {
        let r = api
            .request(method, app.url(&path))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = app
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/calendars/{sub_id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // The feed link: none, made, served, off.
    let get_feed = || api.get(app.url("/api/v1/calendar-feed")).bearer_auth(&token).send();
    assert_eq!(
        get_feed().await.unwrap().json::<Value>().await.unwrap()["url"],
        Value::Null
    );
    let r = app
        .api(reqwest::Method::POST, "/api/v1/calendar-feed", &token, None)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let url = r.json::<Value>().await.unwrap()["url"].as_str().unwrap().to_string();
    assert_eq!(
        get_feed().await.unwrap().json::<Value>().await.unwrap()["url"],
        url.as_str()
    );
    let ics = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(ics.contains("Closed: Annual leave"), "{ics}");
    let r = app
        .api(reqwest::Method::DELETE, "/api/v1/calendar-feed", &token, None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), StatusCode::NOT_FOUND);
    let _ = dana;
});
