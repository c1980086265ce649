//! The `endwell` binary as a user runs it: accounts and tokens from the
//! command line, a server that is killed and started again, export and
//! import between databases, and the exit codes scripts rely on.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use endwell_store::testing::{TestDb, backends};
use serde_json::{Value, json};

fn endwell(db: &TestDb) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_endwell"));
    c.env("ENDWELL_DATABASE", &db.url)
        .env("ENDWELL_DATA_KEY", db.key.to_base64())
        .env("ENDWELL_LOG", "warn")
        .env_remove("ENDWELL_CONFIG")
        .env_remove("ENDWELL_LISTEN")
        .current_dir(std::env::temp_dir());
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Start `endwell serve` on a free port; returns the process and base URL.
fn serve(db: &TestDb) -> (Child, String) {
    let mut child = endwell(db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("a line").unwrap();
    let url = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"));
    (child, format!("http://{url}"))
}

#[test]
fn version_and_help() {
    let v = Command::new(env!("CARGO_BIN_EXE_endwell"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("endwell "));
    let h = Command::new(env!("CARGO_BIN_EXE_endwell"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&h.stdout);
    for cmd in ["serve", "demo", "migrate", "user", "token", "export", "import"] {
        assert!(text.contains(cmd), "help lacks {cmd}");
    }
}

#[tokio::test]
async fn data_survives_a_killed_server_then_exports_and_imports_identically() {
    for backend in backends() {
        eprintln!("on {backend}");
        let db = TestDb::new(backend).await;
        ok(endwell(&db).arg("migrate"));
        let out = ok(endwell(&db)
            .args([
                "user",
                "add",
                "--email",
                "sam@clinic.example",
                "--name",
                "Sam Rivera",
                "--timezone",
                "Europe/London",
                "--json",
            ])
            .env("ENDWELL_PASSWORD", "a long enough password"));
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["role"], "practitioner");
        let token = ok(endwell(&db).args(["token", "create", "--email", "sam@clinic.example"]))
            .trim()
            .to_string();

        let (mut server, base) = serve(&db);
        let api = reqwest::Client::new();
        let r = api
            .post(format!("{base}/api/v1/clients"))
            .bearer_auth(&token)
            .json(&json!({"given_name": "Ada", "vulnerability_notes": "Lives alone"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        server.kill().unwrap(); // no graceful shutdown: committed data must still be there
        server.wait().unwrap();

        let (mut server, base) = serve(&db);
        let c: Value = api
            .get(format!("{base}/api/v1/clients/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(c["vulnerability_notes"], "Lives alone");
        server.kill().unwrap();
        server.wait().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("export.json");
        ok(endwell(&db).args(["export", "--json", "--output"]).arg(&file));
        let exported = std::fs::read_to_string(&file).unwrap();
        assert!(exported.contains("Lives alone") && exported.contains("sam@clinic.example"));

        let fresh = TestDb::new(backend).await;
        let counts: Value = serde_json::from_str(&ok(endwell(&fresh).args(["import", "--json"]).arg(&file))).unwrap();
        assert_eq!(counts["clients"], 1);
        let again = ok(endwell(&fresh).args(["export", "--json"]));
        assert_eq!(again, exported, "export → import → export is identical");
        assert!(ok(endwell(&fresh).arg("verify")).contains("intact"));

        // Importing twice is refused with exit code 4 and changes nothing.
        let out = endwell(&fresh).args(["import", "--json"]).arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("empty database"));
        // Unknown account: exit code 3; invalid input: exit code 2.
        let out = endwell(&fresh)
            .args(["token", "create", "--email", "nobody@x.example"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        let out = endwell(&fresh)
            .args([
                "user",
                "add",
                "--email",
                "kim@clinic.example",
                "--name",
                "Kim",
                "--timezone",
                "Mars/Base",
            ])
            .env("ENDWELL_PASSWORD", "a long enough password")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("IANA"));
        let out = endwell(&fresh)
            .args(["user", "add", "--email", "kim@clinic.example", "--name", "Kim"])
            .env("ENDWELL_PASSWORD", "short")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        fresh.cleanup().await;
        db.cleanup().await;
    }
}

#[test]
fn a_generated_password_is_printed_once_and_works_for_login() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::new("sqlite"));
    let out = ok(endwell(&db)
        .args([
            "user",
            "add",
            "--email",
            "lee@clinic.example",
            "--name",
            "Lee",
            "--role",
            "supervisor",
            "--json",
        ])
        .stdin(Stdio::null()));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["role"], "supervisor");
    assert_eq!(v["password"].as_str().unwrap().len(), 20);
    let list: Value = serde_json::from_str(&ok(endwell(&db).args(["user", "list", "--json"]))).unwrap();
    assert_eq!(list[0]["email"], "lee@clinic.example");
}

#[tokio::test]
async fn calendar_import_keeps_a_file_for_a_practitioner() {
    for backend in backends() {
        eprintln!("on {backend}");
        let db = TestDb::new(backend).await;
        ok(endwell(&db).arg("migrate"));
        ok(endwell(&db)
            .args([
                "user",
                "add",
                "--email",
                "sam@clinic.example",
                "--name",
                "Sam",
                "--timezone",
                "Europe/London",
            ])
            .env("ENDWELL_PASSWORD", "a long enough password"));
        let day = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .checked_add(jiff::Span::new().days(10))
            .unwrap();
        let ics = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:a@test\r\nDTSTAMP:20261101T000000Z\r\n\
             DTSTART;VALUE=DATE:{}\r\nSUMMARY:Leave\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            day.strftime("%Y%m%d")
        );
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, ics.as_bytes()).unwrap();
        let path = file.path().to_str().unwrap();
        let out = ok(endwell(&db).args([
            "calendar",
            "import",
            path,
            "--email",
            "sam@clinic.example",
            "--name",
            "Leave",
        ]));
        assert!(out.contains("1 closures"), "{out}");
        let export: Value = serde_json::from_str(&ok(endwell(&db).args(["export", "--json"]))).unwrap();
        let cals = &export["office"]["calendars"];
        assert_eq!(cals.as_array().unwrap().len(), 1, "{export}");
        assert_eq!(cals[0]["name"], "Leave");
        assert_eq!(cals[0]["closures"][0]["from"], day.to_string());
        // An unknown account: exit 3, nothing kept.
        let out = endwell(&db)
            .args(["calendar", "import", path, "--email", "nobody@clinic.example"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
        db.cleanup().await;
    }
}
