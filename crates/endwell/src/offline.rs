//! Commands that need no database: `availability` and `decide` over a terms
//! file, in the shapes DESIGN.md's CLI contract fixes.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use endwell_core::DomainError;
use endwell_core::availability::Availability;
use endwell_core::decision::{Contact, Decision, Policy};
use endwell_core::lifecycle::EngagementState;
use endwell_core::message::Message;
use endwell_core::terms::{Channel, Terms};
use endwell_core::triage::{Classifier, PackClassifier};
use jiff::Timestamp;
use serde_json::{Value, json};

pub fn read_terms(path: &Path) -> anyhow::Result<Terms> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the terms file {}", path.display()))?;
    Terms::from_toml(&text).with_context(|| format!("in {}", path.display()))
}

/// An RFC 3339 instant, or `now`.
pub fn parse_time(field: &str, text: Option<&str>) -> Result<Timestamp, DomainError> {
    match text.map(str::trim) {
        None | Some("now") => Ok(Timestamp::now()),
        Some(t) => t.parse::<Timestamp>().map_err(|_| {
            DomainError::invalid(
                field,
                format!(
                    "{t:?} is not an RFC 3339 time; write it like 2026-11-30T20:00:00Z or 2026-11-30T20:00:00+00:00"
                ),
            )
        }),
    }
}

pub fn availability(terms: &Path, at: Option<&str>, json_out: bool) -> anyhow::Result<()> {
    let terms = read_terms(terms)?;
    let at = parse_time("at", at)?;
    let a = Availability::around(&terms, at);
    let o = a.openness(at);
    if json_out {
        println!(
            "{}",
            json!({
                "open": o.open,
                "next_open": o.next_open.map(|t| t.to_string()),
                "next_close": o.next_close.map(|t| t.to_string()),
            })
        );
    } else {
        let zone = terms.timezone.name();
        match (o.open, o.next_open, o.next_close) {
            (true, _, Some(c)) => println!("Open, until {}.", a.describe(c, zone)),
            (true, _, None) => println!("Open, and not closing within a year."),
            (false, Some(n), _) => println!("Closed; opens {}.", a.describe(n, zone)),
            (false, None, _) => println!("Closed, and not open within a year."),
        }
    }
    Ok(())
}

pub struct DecideArgs<'a> {
    pub terms: &'a Path,
    pub at: Option<&'a str>,
    pub channel: &'a str,
    pub state: &'a str,
    pub last_reply: Option<&'a str>,
    pub from: Option<&'a str>,
    pub json: bool,
    pub classifier: &'a PackClassifier,
}

pub fn decide(args: DecideArgs) -> anyhow::Result<()> {
    let terms = read_terms(args.terms)?;
    let at = parse_time("at", args.at)?;
    let last_reply = args.last_reply.map(|t| parse_time("last-reply", Some(t))).transpose()?;
    let channel: Channel = args.channel.parse()?;
    let state: EngagementState = args.state.parse()?;
    let mut raw = Vec::new();
    std::io::stdin()
        .read_to_end(&mut raw)
        .context("cannot read the message from standard input")?;
    let mut message = Message::parse(&raw);
    if let Some(from) = args.from
        && message.from.is_none()
    {
        message = Message::plain(Some(from), &message.body);
    }
    let labels = args.classifier.classify_message(&message);
    let decision = Policy::around(&terms, at).decide(&Contact {
        channel,
        state,
        message: &message,
        labels: &labels,
        at,
        last_reply,
    });
    let labels: Vec<&str> = labels.iter().map(|f| f.label.key()).collect();
    if args.json {
        println!("{}", decision_json(&decision, &labels));
    } else {
        println!("{}", decision.action.key());
        for r in &decision.reasons {
            println!("  - {r}");
        }
        if let Some(reply) = &decision.reply {
            println!("\nReply to {}:", reply.to.as_deref().unwrap_or("(the sender)"));
            if let Some(s) = &reply.subject {
                println!("Subject: {s}");
            }
            println!("\n{}", reply.body);
        }
    }
    Ok(())
}

/// DESIGN.md's shape: action, release_at, labels, reasons, reply.
pub fn decision_json(d: &Decision, labels: &[&str]) -> Value {
    json!({
        "action": d.action.key(),
        "release_at": d.release_at.map(|t| t.to_string()),
        "labels": labels,
        "reasons": d.reasons,
        "reply": d.reply.as_ref().map(|r| json!({
            "to": r.to,
            "subject": r.subject,
            "headers": r.headers,
            "body": r.body,
        })),
    })
}

pub struct CalendarImportArgs<'a> {
    pub file: &'a Path,
    pub terms: Option<&'a Path>,
    pub zone: Option<&'a str>,
    pub from: Option<&'a str>,
    pub until: Option<&'a str>,
}

/// `endwell calendar import FILE`: read closures from an iCalendar file and
/// print them as terms' `[[exceptions]]` (or, with `--terms`, the whole
/// terms with them added, ready to save as a new agreement version).
pub fn calendar_import(args: CalendarImportArgs) -> anyhow::Result<()> {
    use endwell_core::terms::Zone;
    let text = std::fs::read_to_string(args.file)
        .with_context(|| format!("cannot read the calendar {}", args.file.display()))?;
    let mut terms = args.terms.map(read_terms).transpose()?;
    let zone: Zone = match (args.zone, &terms) {
        (Some(z), _) => z.parse()?,
        (None, Some(t)) => t.timezone.clone(),
        (None, None) => {
            return Err(DomainError::invalid("zone", "give --zone (e.g. Europe/London) or --terms FILE").into());
        }
    };
    let today = Timestamp::now().to_zoned(zone.tz().clone()).date();
    let date = |field: &str, v: Option<&str>, default: jiff::civil::Date| -> Result<jiff::civil::Date, DomainError> {
        match v {
            None => Ok(default),
            Some(s) => s
                .trim()
                .parse()
                .map_err(|_| DomainError::invalid(field, format!("{s:?} is not a date like 2026-12-24"))),
        }
    };
    let from = date("from", args.from, today)?;
    let until = date("until", args.until, today.saturating_add(jiff::Span::new().years(1)))?;
    let imported = endwell_core::calendar::import_ics(&text, &zone, from, until)?;
    for note in imported.notes.iter().chain(imported.free.iter()) {
        eprintln!("note: {note}");
    }
    eprintln!(
        "{} closures from {} between {from} and {until} ({}).",
        imported.exceptions.len(),
        args.file.display(),
        zone.name()
    );
    match terms.as_mut() {
        Some(t) => {
            t.exceptions.extend(imported.exceptions);
            print!("{}", t.to_toml());
        }
        None => {
            #[derive(serde::Serialize)]
            struct Out {
                exceptions: Vec<endwell_core::terms::Exception>,
            }
            print!(
                "{}",
                toml::to_string(&Out {
                    exceptions: imported.exceptions
                })?
            );
        }
    }
    Ok(())
}
