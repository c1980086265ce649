//! The built-in English pack on real-looking messages, and on the corpus.

use endwell_core::message::Message;
use endwell_core::triage::eval::{evaluate, parse_corpus};
use endwell_core::triage::{Classifier, Label, PackClassifier, is_crisis, message_text};

fn labels(text: &str) -> Vec<Label> {
    PackClassifier::english()
        .classify(text)
        .into_iter()
        .map(|f| f.label)
        .collect()
}

#[test]
fn crisis_is_found_in_the_words_people_use() {
    for t in [
        "I don’t want to be here anymore",
        "i cant do this anymore",
        "im gonna kill myself tonight",
        "been cutting my arms again",
        "I've been saving up my tablets for weeks",
        "Honestly everyone would be better off without me",
    ] {
        assert!(labels(t).contains(&Label::Crisis), "{t}: {:?}", labels(t));
    }
}

#[test]
fn figures_of_speech_denials_and_quotes_are_not_a_crisis() {
    for t in [
        "This deadline is killing me, can we move Thursday?",
        "I nearly died laughing at the video you mentioned",
        "I would never hurt myself, please don't worry",
        "Thanks, see you Tuesday.\n\nOn Mon, 2 Dec 2026 at 09:00, Sam Rivera <sam@clinic.example> wrote:\n> If you ever feel like you want to die, call 999.\n",
    ] {
        assert!(!labels(t).contains(&Label::Crisis), "{t}: {:?}", labels(t));
    }
}

#[test]
fn html_mail_is_read_as_text() {
    let mail = "From: Jo <jo@example.net>\r\nTo: sam@clinic.example\r\nSubject: hello\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>I&rsquo;ve bought you a little gift&nbsp;to say thank you</p>\r\n";
    let m = Message::parse(mail.as_bytes());
    assert_eq!(labels(&message_text(&m)), [Label::GiftOrMoney]);
}

#[test]
fn nothing_found_is_other() {
    assert_eq!(labels("The worksheet helped. Thank you."), [Label::Other]);
}

/// The output people and scripts read: labels, scores and evidence.
#[test]
fn findings_snapshot() {
    let c = PackClassifier::english();
    let out: Vec<String> = [
        "Can we move Thursday's session to 4pm? Also I got you a little something for Christmas xx",
        "i dont wanna be here anymore. sorry for everything",
        "Would you like to come to my wedding? I found you on Instagram too!",
        "Hi, I'm not paying for a session you cut short",
        // No phrase of the pack: the word model's finding and its words.
        "honestly whats the point of any of it. i keep thinking everyone would cope fine",
    ]
    .iter()
    .map(|t| {
        let f = c.classify(t);
        format!(
            "{t}\n  crisis: {}\n{}",
            is_crisis(&f),
            f.iter()
                .map(|f| format!("  {} {:.2} {:?}", f.label, f.score, f.evidence))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
    .collect();
    insta::assert_snapshot!(out.join("\n\n"));
}

fn corpus(name: &str) -> endwell_core::triage::eval::Report {
    let path = format!("{}/../../corpus/triage/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let examples = parse_corpus(&text).unwrap();
    assert!(examples.len() >= 150, "{name}: {} examples", examples.len());
    let report = evaluate(&*PackClassifier::english(), &examples);
    println!("{name}\n{}", report.table());
    report
}

/// Floors a little below what the built-in pack and its word model reach
/// today, so that a change to either cannot quietly make triage worse:
/// (split, crisis recall, crisis precision, micro-F1 of the other labels).
/// The dev splits are trained and tuned on; the calibration splits chose
/// the model's thresholds; `test`, `test2` and `test3` are held out (see
/// corpus/triage/README.md). The targets (crisis recall 0.98 with
/// precision 0.85, micro-F1 0.85) are printed by `endwell triage eval` in
/// CI; the held-out splits do not meet them all yet.
const FLOORS: [(&str, f64, f64, f64); 13] = [
    ("dev.jsonl", 0.98, 0.87, 0.95),
    ("dev2.jsonl", 0.98, 0.95, 0.94),
    ("dev3.jsonl", 0.98, 0.90, 0.92),
    ("dev4.jsonl", 0.98, 0.80, 0.90),
    ("dev5.jsonl", 0.98, 0.82, 0.91),
    ("dev6.jsonl", 0.98, 0.85, 0.93),
    ("dev7.jsonl", 0.98, 0.84, 0.92),
    ("dev8.jsonl", 0.98, 0.81, 0.94),
    ("calib1.jsonl", 0.96, 0.68, 0.90),
    ("calib2.jsonl", 0.96, 0.67, 0.87),
    ("test.jsonl", 0.94, 0.78, 0.89),
    ("test2.jsonl", 0.96, 0.69, 0.84),
    ("test3.jsonl", 0.94, 0.71, 0.84),
];

#[test]
fn the_corpus_does_not_regress() {
    for (split, recall, precision, micro) in FLOORS {
        let report = corpus(split);
        let crisis = report.counts(Label::Crisis);
        assert!(
            crisis.recall() >= recall,
            "{split}: crisis recall {:.3}",
            crisis.recall()
        );
        assert!(
            crisis.precision() >= precision,
            "{split}: crisis precision {:.3}",
            crisis.precision()
        );
        assert!(
            report.micro_f1_others() >= micro,
            "{split}: micro-F1 {:.3}",
            report.micro_f1_others()
        );
    }
}
