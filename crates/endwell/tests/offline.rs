//! `endwell availability` and `endwell decide` exactly in DESIGN.md's JSON
//! shapes, and their exit codes on bad input.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const TERMS: &str = include_str!("../../endwell-core/tests/design-terms.toml");

fn terms_file() -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(TERMS.as_bytes()).unwrap();
    f
}

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_endwell"))
        .args(args)
        .env("ENDWELL_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn availability_json_shape() {
    let f = terms_file();
    let path = f.path().to_str().unwrap();
    let (code, out, _) = run(
        &[
            "availability",
            "--terms",
            path,
            "--at",
            "2026-11-30T20:00:00Z",
            "--json",
        ],
        "",
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!({"open": false, "next_open": "2026-12-01T09:00:00Z", "next_close": null})
    );
    let (_, out, _) = run(
        &[
            "availability",
            "--terms",
            path,
            "--at",
            "2026-11-30T10:00:00+00:00",
            "--json",
        ],
        "",
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!({"open": true, "next_open": null, "next_close": "2026-11-30T12:30:00Z"})
    );
}

#[test]
fn decide_json_shape() {
    let f = terms_file();
    let path = f.path().to_str().unwrap();
    let mail = "Return-Path: <alex@example.net>\nFrom: alex@example.net\nTo: sam@clinic.example\nSubject: Thursday\nMessage-ID: <m1@example.net>\n\nCould we move Thursday?\n";
    let (code, out, err) = run(
        &[
            "decide",
            "--terms",
            path,
            "--at",
            "2026-11-30T20:00:00Z",
            "--channel",
            "email",
            "--state",
            "active",
            "--json",
        ],
        mail,
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["action", "labels", "reasons", "release_at", "reply"]);
    assert_eq!(v["action"], "auto_reply");
    assert_eq!(v["release_at"], "2026-12-01T09:00:00Z");
    let reply = v["reply"].as_object().unwrap();
    let keys: Vec<&String> = reply.keys().collect();
    assert_eq!(keys, ["body", "headers", "subject", "to"]);
    assert_eq!(reply["to"], "alex@example.net");
    assert_eq!(reply["headers"]["Auto-Submitted"], "auto-replied (away)");

    // Replied already this closed spell: held only.
    let (_, out, _) = run(
        &[
            "decide",
            "--terms",
            path,
            "--at",
            "2026-11-30T21:00:00Z",
            "--last-reply",
            "2026-11-30T20:00:00Z",
            "--json",
        ],
        mail,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["action"], "hold");
    assert_eq!(v["reply"], Value::Null);

    // Plain text crisis by SMS, ended and transferred engagements.
    let (_, out, _) = run(
        &[
            "decide",
            "--terms",
            path,
            "--at",
            "2026-11-30T21:00:00Z",
            "--channel",
            "sms",
            "--json",
        ],
        "i want to kill myself",
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["action"], "crisis");
    assert_eq!(v["release_at"], Value::Null);
    assert_eq!(v["labels"], json!(["crisis"]));
    let (_, out, _) = run(&["decide", "--terms", path, "--state", "ended", "--json"], mail);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["action"], "ended");
    let (_, out, _) = run(&["decide", "--terms", path, "--state", "transferred", "--json"], mail);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["action"], "forward");
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let f = terms_file();
    let path = f.path().to_str().unwrap();
    for args in [
        vec!["decide", "--terms", path, "--at", "soon", "--json"],
        vec!["decide", "--terms", path, "--channel", "fax", "--json"],
        vec!["decide", "--terms", path, "--state", "paused", "--json"],
    ] {
        let (code, out, err) = run(&args, "hi");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert!(err.starts_with("endwell: "), "{err}");
    }
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    bad.write_all(b"timezone = \"Europe/London\"\n[office_hours]\nmon = [\"09:00-17:00\"]\nlunch = 1\n")
        .unwrap();
    let (code, _, err) = run(&["availability", "--terms", bad.path().to_str().unwrap(), "--json"], "");
    assert_eq!(code, 2);
    assert!(err.contains("lunch"), "{err}");
}

#[test]
fn calendar_import_prints_exceptions_and_merges_into_terms() {
    let ics = concat!(env!("CARGO_MANIFEST_DIR"), "/../endwell-core/tests/calendar/leave.ics");
    let (code, out, err) = run(
        &[
            "calendar",
            "import",
            ics,
            "--zone",
            "Europe/London",
            "--from",
            "2026-11-01",
            "--until",
            "2027-12-31",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("[[exceptions]]"), "{out}");
    assert!(out.contains("from = \"2026-12-24\""), "{out}");
    assert!(out.contains("to = \"2026-12-28\""), "{out}");

    // With --terms: whole terms that read back, with the closures added.
    let f = terms_file();
    let (code, out, err) = run(
        &[
            "calendar",
            "import",
            ics,
            "--terms",
            f.path().to_str().unwrap(),
            "--from",
            "2026-11-01",
            "--until",
            "2027-12-31",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let terms = endwell_core::Terms::from_toml(&out).unwrap();
    assert!(terms.exceptions.len() > 2);

    // Not a calendar: exit 2 and a message.
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    bad.write_all(b"{\"not\": \"a calendar\"}").unwrap();
    let (code, _, err) = run(
        &["calendar", "import", bad.path().to_str().unwrap(), "--zone", "UTC"],
        "",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not an iCalendar file"), "{err}");
}

/// `endwell triage --json` in DESIGN.md's shape; `triage eval` and `triage
/// check` with their exit codes.
#[test]
fn triage_json_shape_eval_and_check() {
    let mail = "From: Ada <ada@example.org>\nTo: sam@clinic.example\nSubject: tonight\n\nI don't want to be here anymore.\n\nOn Mon, 30 Nov 2026 at 09:00, Sam <sam@clinic.example> wrote:\n> see you Thursday\n";
    let (code, out, err) = run(&["triage", "--json"], mail);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["crisis"], true);
    let labels = v["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 1, "the quoted Thursday is not read: {v}");
    assert_eq!(labels[0]["label"], "crisis");
    assert_eq!(labels[0]["evidence"], json!(["don't want to be here anymore"]));
    let score = labels[0]["score"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0);
    let (_, out, _) = run(&["triage", "--json"], "Thanks for today.");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"labels": [{"label": "other", "score": 1.0, "evidence": []}], "crisis": false})
    );

    // Eval: a corpus of two, and a crisis-recall floor it cannot meet.
    let mut corpus = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        corpus,
        r#"{{"id": "a", "channel": "sms", "message": "i want to kill myself", "labels": ["crisis"]}}"#
    )
    .unwrap();
    writeln!(
        corpus,
        r#"{{"id": "b", "channel": "sms", "message": "the bus was late", "labels": ["crisis"]}}"#
    )
    .unwrap();
    let path = corpus.path().to_str().unwrap();
    let (code, out, err) = run(&["triage", "eval", path], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("crisis") && out.contains("0.500"), "{out}");
    let (code, _, err) = run(&["triage", "eval", path, "--min-crisis-recall", "0.98"], "");
    assert_eq!(code, 1);
    assert!(err.contains("crisis recall 0.500 is below the minimum 0.980"), "{err}");
    let (code, out, _) = run(&["triage", "eval", path, "--json"], "");
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["labels"]["crisis"]["recall"],
        0.5
    );

    // A broken corpus line and a broken pack are input errors (exit 2) that say where.
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        bad,
        r#"{{"id": "a", "channel": "sms", "message": "hi", "labels": ["crises"]}}"#
    )
    .unwrap();
    let (code, _, err) = run(&["triage", "eval", bad.path().to_str().unwrap()], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 1") && err.contains("crises"), "{err}");
    let mut pack = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        pack,
        "language = \"en\"\n[[rule]]\nlabel = \"gift\"\nweight = 0.5\nphrases = [\"x\"]"
    )
    .unwrap();
    let (code, _, err) = run(&["triage", "check", pack.path().to_str().unwrap()], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"gift\" is not a label"), "{err}");
    let builtin = concat!(env!("CARGO_MANIFEST_DIR"), "/../../packs/triage/en.toml");
    let (code, out, _) = run(&["triage", "check", builtin], "");
    assert_eq!(code, 0);
    assert!(out.contains("valid; language en"), "{out}");
    // A folder of packs replaces the built-in one; an empty folder is refused.
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["triage", "--packs", dir.path().to_str().unwrap()], "hi");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no *.toml packs"), "{err}");
}

#[test]
fn triage_train_writes_a_model_that_a_packs_folder_uses() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap();
    std::fs::write(
        dir.path().join("en.toml"),
        "language = \"en\"\n[[rule]]\nlabel = \"payment\"\nweight = 0.9\nphrases = [\"invoice\"]\n",
    )
    .unwrap();
    let corpus = |name: &str, n: usize| {
        let path = dir.path().join(name);
        let mut lines = String::new();
        for i in 0..n {
            for (text, label) in [
                ("I have had enough of it all", "crisis"),
                ("I have had lunch, it was all fine", "other"),
                ("can we move thursday to", "scheduling"),
            ] {
                lines.push_str(&format!(
                    "{}\n",
                    json!({"id": format!("{name}-{label}-{i}"), "channel": "sms", "message": format!("{text} {i}"), "labels": [label]})
                ));
            }
        }
        std::fs::write(&path, lines).unwrap();
        path.to_str().unwrap().to_string()
    };
    let train = corpus("train.jsonl", 30);
    let held = corpus("held.jsonl", 10);
    let model = dir.path().join("en.model.json");
    let out_path = model.to_str().unwrap();

    // Too little to learn from is an input error.
    let tiny = corpus("tiny.jsonl", 1);
    let (code, _, err) = run(&["triage", "train", &tiny, "--out", out_path, "--packs", folder], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("too few to train on"), "{err}");
    assert!(!model.exists());

    let (code, out, err) = run(
        &[
            "triage",
            "train",
            &train,
            "--calibrate",
            &held,
            "--out",
            out_path,
            "--packs",
            folder,
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("90 messages; cross-validated (5 folds)"), "{out}");
    assert!(out.contains("30 messages held out for calibration"), "{out}");
    assert!(model.exists());

    // The folder's pack now has its model beside it: check says so, and
    // triage flags what no phrase names.
    let (code, out, err) = run(&["triage", "check", dir.path().join("en.toml").to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("en.model.json: valid;") && out.contains("flags crisis"),
        "{out}"
    );
    let (code, out, err) = run(&["triage", "--packs", folder, "--json"], "honestly I have had enough");
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["crisis"], true, "{v}");
    assert_eq!(v["labels"][0]["evidence"], json!(["I have had enough"]));
    // Without the model, the phrases alone find no crisis.
    let (code, out, _) = run(
        &["triage", "eval", &held, "--phrases-only", "--json", "--packs", folder],
        "",
    );
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["labels"]["crisis"]["recall"],
        0.0
    );

    // A broken model file stops the folder from loading, and says which file.
    std::fs::write(&model, "{\"language\": \"en\", \"labels\": {\"crises\": {}}}").unwrap();
    let (code, _, err) = run(&["triage", "--packs", folder], "hi");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("en.model.json"), "{err}");
}
