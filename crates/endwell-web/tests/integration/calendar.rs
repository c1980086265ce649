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
