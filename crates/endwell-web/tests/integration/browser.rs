//! A practitioner's path through the UI in a real browser (Debian's Chromium
//! through ChromeDriver) with JavaScript switched off: the pages must work
//! as plain HTML forms. On every page visited, every form control must have
//! a label. Skipped loudly without ChromeDriver, except under CI.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use endwell_core::model::Role;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::app::TestApp;

struct Driver {
    process: Child,
    client: Client,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Option<Driver> {
        let found = ["/usr/bin/chromedriver", "/usr/bin/chromium"]
            .iter()
            .all(|p| std::path::Path::new(p).exists());
        if !found {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "chromium and chromedriver are required under CI (scripts/deps.sh installs them)"
            );
            eprintln!(
                "\n!!! chromium/chromedriver not installed: the browser test is SKIPPED (scripts/deps.sh installs them) !!!\n"
            );
            return None;
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let process = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-quic", "--no-first-run", "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                // No JavaScript: Endwell must work as plain HTML.
                "prefs": { "profile.managed_default_content_settings.javascript": 2 }
            }
        });
        let caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..50 {
            match ClientBuilder::native().capabilities(caps.clone()).connect(&url).await {
                Ok(client) => {
                    return Some(Driver {
                        process,
                        client,
                        _profile: profile,
                    });
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start: {last:?}");
    }

    async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

async fn fill(c: &Client, css: &str, text: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

/// Click something that loads a new page, and wait until the old page is gone.
async fn click(c: &Client, locator: Locator<'_>) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(locator)
        .await
        .unwrap_or_else(|e| panic!("{locator:?}: {e}"))
        .click()
        .await
        .unwrap();
    for _ in 0..200 {
        match old.tag_name().await {
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                return;
            }
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    panic!("{locator:?}: no new page after 5 s");
}

/// Every visible form control has a label, the page has one h1 and a language.
async fn check_page(c: &Client) {
    let where_ = path(c).await;
    let html = c.find(Locator::Css("html")).await.unwrap();
    assert_eq!(
        html.attr("lang").await.unwrap().as_deref(),
        Some("en"),
        "{where_}: html lang"
    );
    assert_eq!(
        c.find_all(Locator::Css("h1")).await.unwrap().len(),
        1,
        "{where_}: one h1"
    );
    assert_eq!(
        c.find_all(Locator::Css("main")).await.unwrap().len(),
        1,
        "{where_}: a main landmark"
    );
    for el in c.find_all(Locator::Css("input, select, textarea")).await.unwrap() {
        if el.attr("type").await.unwrap().as_deref() == Some("hidden") {
            continue;
        }
        let id = el.attr("id").await.unwrap();
        let by_for = match &id {
            Some(id) => !c
                .find_all(Locator::Css(&format!("label[for='{id}']")))
                .await
                .unwrap()
                .is_empty(),
            None => false,
        };
        let wrapped = !el.find_all(Locator::XPath("ancestor::label")).await.unwrap().is_empty();
        let name = el.attr("name").await.unwrap();
        assert!(
            by_for || wrapped,
            "{where_}: the control {name:?} (id {id:?}) has no label"
        );
    }
}

#[tokio::test]
async fn a_practitioner_works_through_the_ui_without_javascript() {
    let Some(driver) = Driver::start().await else { return };
    let app = TestApp::spawn("sqlite").await;
    app.user("sam@clinic.example", Role::Practitioner, None).await;
    let c = &driver.client;

    c.goto(&app.url("/caseload")).await.unwrap();
    assert_eq!(path(c).await, "/login");
    check_page(c).await;
    fill(c, "#email", "sam@clinic.example").await;
    fill(c, "#password", "a long enough password").await;
    click(c, Locator::Css("main button[type=submit]")).await;
    assert_eq!(path(c).await, "/caseload");
    check_page(c).await;

    click(c, Locator::LinkText("Add a client")).await;
    check_page(c).await;
    fill(c, "#given_name", "Ada").await;
    fill(c, "#family_name", "Okafor").await;
    fill(c, "#emails", "ada@example.org").await;
    click(c, Locator::Css("main button[type=submit]")).await;
    assert!(path(c).await.starts_with("/clients/"));
    check_page(c).await;
    assert!(c.source().await.unwrap().contains("ada@example.org"));

    click(c, Locator::LinkText("Open an engagement")).await;
    check_page(c).await;
    fill(c, "#title", "CBT for panic attacks").await;
    click(c, Locator::Css("main button[type=submit]")).await;
    assert!(path(c).await.starts_with("/engagements/"));
    let engagement = path(c).await;
    check_page(c).await;

    click(c, Locator::LinkText("Write the terms")).await;
    check_page(c).await;
    fill(c, "#hours_sat", "10:00-12:00").await;
    fill(c, "#crisis_resources", "Samaritans: 116 123 (24 hours)").await;
    click(c, Locator::Css("main form.terms button[type=submit]")).await;
    assert_eq!(path(c).await, format!("{engagement}/agreements/1"));
    check_page(c).await;
    let page = c.source().await.unwrap();
    assert!(page.contains("10:00-12:00") && page.contains("Samaritans: 116 123"));

    click(c, Locator::XPath("//button[normalize-space()='Record consent']")).await;
    assert_eq!(path(c).await, engagement);
    click(c, Locator::XPath("//button[normalize-space()='Start the work']")).await;
    assert_eq!(path(c).await, engagement);
    let page = c.source().await.unwrap();
    assert!(page.contains("state-active"), "the engagement is active");

    click(c, Locator::LinkText("Full history")).await;
    check_page(c).await;
    let page = c.source().await.unwrap();
    for words in ["Engagement opened", "Consent recorded", "from proposed to active"] {
        assert!(page.contains(words), "history lacks {words}");
    }

    click(c, Locator::Css(".logout button")).await;
    assert_eq!(path(c).await, "/login");
    driver.stop().await;
    app.finish().await;
}
