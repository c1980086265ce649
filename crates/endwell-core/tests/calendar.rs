//! Calendar import and feed: a hand-written export shaped like Google
//! Calendar's and Thunderbird's, and the feed read back by an independent
//! parser (the `ical` crate) and by our own import.

use std::io::BufReader;

use endwell_core::availability::local_instant;
use endwell_core::calendar::{CalendarImport, FeedDate, FeedSpec, MAX_OCCURRENCES, feed, import_ics};
use endwell_core::terms::{Exception, LocalPoint, Terms, Zone};
use jiff::Timestamp;
use jiff::civil::{Date, date};
use proptest::prelude::*;

const LEAVE: &str = include_str!("calendar/leave.ics");
const TERMS: &str = include_str!("design-terms.toml");

fn london() -> Zone {
    "Europe/London".parse().unwrap()
}

fn year_2026(text: &str) -> CalendarImport {
    import_ics(text, &london(), date(2026, 1, 1), date(2026, 12, 31)).unwrap()
}

fn days(from: &str, to: &str, reason: &str) -> Exception {
    Exception {
        from: LocalPoint::Day(from.parse().unwrap()),
        to: LocalPoint::Day(to.parse().unwrap()),
        reason: reason.into(),
    }
}

fn spell(from: &str, to: &str, reason: &str) -> Exception {
    Exception {
        from: LocalPoint::At(from.parse().unwrap()),
        to: LocalPoint::At(to.parse().unwrap()),
        reason: reason.into(),
    }
}

/// A minimal calendar around some VEVENT lines (LF endings: also accepted).
fn calendar(events: &str) -> String {
    format!("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//test//EN\n{events}END:VCALENDAR\n")
}

#[test]
fn fixture_is_a_realistic_export() {
    assert!(LEAVE.contains("\r\n"), "CRLF line endings");
    assert!(!LEAVE.replace("\r\n", "").contains('\n'), "no bare LF");
    assert!(LEAVE.contains("\r\n "), "folded lines");
    assert!(LEAVE.split("\r\n").all(|l| l.len() <= 75), "75-octet lines");
}

#[test]
fn leave_export_gives_exact_exceptions() {
    let got = year_2026(LEAVE);
    let want = vec![
        spell(
            "2026-01-15T12:00",
            "2026-01-15T17:00",
            "Training, CPD; safeguarding Level 3 (afternoon)",
        ),
        spell("2026-03-02T09:00", "2026-03-02T10:00", "Team meeting"),
        spell("2026-03-09T09:00", "2026-03-09T10:00", "Team meeting"),
        // 10:00 in Berlin (CET, +1) is 09:00 in London (GMT); DURATION:PT2H.
        spell("2026-03-20T09:00", "2026-03-20T11:00", "Café call with the Berlin team"),
        // 16 March is an EXDATE; clocks go forward on 29 March and 09:00 stays 09:00.
        spell("2026-03-23T09:00", "2026-03-23T10:00", "Team meeting"),
        spell("2026-03-30T09:00", "2026-03-30T10:00", "Team meeting"),
        spell("2026-04-06T09:00", "2026-04-06T10:00", "Team meeting"),
        spell("2026-04-02T14:00", "2026-04-02T15:00", "Clinical supervision"),
        // Moved by an override; 30 April is cancelled by another.
        spell("2026-04-16T16:00", "2026-04-16T17:00", "Clinical supervision (moved)"),
        // UNTIL=20260514T130000Z is 14:00 BST: the last occurrence is included.
        spell("2026-05-14T14:00", "2026-05-14T15:00", "Clinical supervision"),
        // 09:00-17:00 in New York (EDT, -4) is 14:00-22:00 in London (BST).
        spell(
            "2026-06-04T14:00",
            "2026-06-04T22:00",
            "Conference in New York: boundaries, endings and transfers in community mental health practice",
        ),
        spell(
            "2026-06-05T20:00",
            "2026-06-06T08:00",
            "Night cover at the crisis house",
        ),
        // 13:00Z is 14:00 BST.
        spell("2026-07-10T14:00", "2026-07-10T16:00", "Dentist"),
        days("2026-08-31", "2026-08-31", "Summer bank holiday"),
        // DTEND 2026-12-29 is exclusive.
        days("2026-12-24", "2026-12-28", "Christmas holiday"),
    ];
    let mut want_sorted = want.clone();
    let key = |e: &Exception| {
        let at = |p: LocalPoint| match p {
            LocalPoint::Day(d) => d.to_datetime(jiff::civil::Time::midnight()),
            LocalPoint::At(dt) => dt,
        };
        (at(e.from), at(e.to))
    };
    want_sorted.sort_by_key(key);
    assert_eq!(got.exceptions, want_sorted);
    assert_eq!(got.notes, vec![], "nothing in the fixture is broken");
    let free: Vec<&str> = got.free.iter().map(|n| n.summary.as_str()).collect();
    assert_eq!(free, ["Working from home"]);
    assert!(got.free[0].line > 100, "{:?}", got.free[0]);
}

#[test]
fn weekly_event_keeps_its_local_time_across_the_clock_change() {
    let got = year_2026(LEAVE);
    let tz = london();
    let instants: Vec<Timestamp> = got
        .exceptions
        .iter()
        .filter(|e| e.reason == "Team meeting")
        .map(|e| match e.from {
            LocalPoint::At(dt) => local_instant(tz.tz(), dt).unwrap(),
            LocalPoint::Day(_) => unreachable!(),
        })
        .collect();
    let want: Vec<Timestamp> = [
        "2026-03-02T09:00Z",
        "2026-03-09T09:00Z",
        "2026-03-23T09:00Z",
        "2026-03-30T08:00Z",
        "2026-04-06T08:00Z",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(instants, want);
}

#[test]
fn only_occurrences_overlapping_the_window_are_kept() {
    let got = import_ics(LEAVE, &london(), date(2026, 3, 9), date(2026, 3, 23)).unwrap();
    let reasons: Vec<(String, &str)> = got
        .exceptions
        .iter()
        .map(|e| (e.from.to_string(), e.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("2026-03-09T09:00".to_string(), "Team meeting"),
            ("2026-03-20T09:00".to_string(), "Café call with the Berlin team"),
            ("2026-03-23T09:00".to_string(), "Team meeting"),
        ]
    );
    // A multi-day holiday overlapping the window's first day is kept whole.
    let got = import_ics(LEAVE, &london(), date(2026, 12, 27), date(2026, 12, 27)).unwrap();
    assert_eq!(got.exceptions, [days("2026-12-24", "2026-12-28", "Christmas holiday")]);
}

#[test]
fn not_icalendar_is_a_clear_error() {
    for text in [
        "",
        "   \n",
        "hello",
        "{\"events\": []}",
        "BEGIN:VCARD\nFN:Sam\nEND:VCARD\n",
        "\u{feff}From: a@b.c\n",
    ] {
        let err = import_ics(text, &london(), date(2026, 1, 1), date(2026, 12, 31)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("calendar: "), "{msg}");
        assert!(msg.contains("BEGIN:VCALENDAR"), "{msg}");
    }
    let err = import_ics(LEAVE, &london(), date(2026, 2, 1), date(2026, 1, 1)).unwrap_err();
    assert!(err.to_string().contains("before it starts"), "{err}");
}

#[test]
fn bad_events_are_skipped_with_notes() {
    let text = calendar(
        "BEGIN:VEVENT\nUID:good\nDTSTART;VALUE=DATE:20260601\nSUMMARY:Good\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:no-start\nSUMMARY:No start\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:bad-date\nDTSTART:2026-06-01\nSUMMARY:Bad date\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:mars\nDTSTART;TZID=Mars/Olympus:20260601T090000\nDTEND;TZID=Mars/Olympus:20260601T100000\nSUMMARY:Mars\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:rule\nDTSTART:20260601T090000Z\nDTEND:20260601T100000Z\nRRULE:FREQ=FORTNIGHTLY\nSUMMARY:Bad rule\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:backwards\nDTSTART:20260601T090000Z\nDTEND:20260601T080000Z\nSUMMARY:Backwards\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:reminder\nDTSTART:20260601T090000Z\nSUMMARY:Reminder\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:duration\nDTSTART:20260601T090000Z\nDURATION:soon\nSUMMARY:Bad duration\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:unclosed\nDTSTART;VALUE=DATE:20260602\nSUMMARY:Unclosed\n\
         BEGIN:VEVENT\nUID:also-good\nDTSTART;VALUE=DATE:20260603\nSUMMARY:Also good\nEND:VEVENT\n",
    );
    let got = year_2026(&text);
    assert_eq!(
        got.exceptions,
        [
            days("2026-06-01", "2026-06-01", "Good"),
            days("2026-06-03", "2026-06-03", "Also good")
        ]
    );
    let notes: Vec<String> = got.notes.iter().map(|n| n.to_string()).collect();
    let expect = [
        "(\"No start\"): it has no start (DTSTART)",
        "(\"Bad date\"): DTSTART \"2026-06-01\" is not a date",
        "(\"Mars\"): the time zone \"Mars/Olympus\" is not known",
        "(\"Bad rule\"): its repeat rule could not be read",
        "(\"Backwards\"): it ends before it starts",
        "(\"Reminder\"): it has no length",
        "(\"Bad duration\"): DURATION \"soon\" is not a duration",
        "BEGIN:VEVENT has no END:VEVENT",
    ];
    assert_eq!(notes.len(), expect.len(), "{notes:#?} {:#?}", got.exceptions);
    for (note, want) in notes.iter().zip(expect) {
        assert!(note.contains(want), "{note:?} should contain {want:?}");
    }
    // Line numbers point at the event's BEGIN line.
    assert!(notes[0].starts_with("line 9 "), "{}", notes[0]);
}

#[test]
fn truncated_file_keeps_what_is_complete() {
    let cut = &LEAVE[..LEAVE.find("UID:team-meeting").unwrap()];
    let got = year_2026(cut);
    assert!(got.exceptions.iter().any(|e| e.reason == "Dentist"));
    assert!(!got.exceptions.iter().any(|e| e.reason == "Team meeting"));
    let notes: Vec<String> = got.notes.iter().map(|n| n.to_string()).collect();
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(notes[0].contains("may be cut short"), "{notes:#?}");
}

#[test]
fn unbounded_rules_are_expanded_only_as_far_as_needed() {
    let text = calendar(
        "BEGIN:VEVENT\nUID:daily\nDTSTART;TZID=Europe/London:20000103T083000\nDTEND;TZID=Europe/London:20000103T090000\n\
         RRULE:FREQ=DAILY\nSUMMARY:School run\nEND:VEVENT\n",
    );
    let got = import_ics(&text, &london(), date(2026, 3, 28), date(2026, 3, 30)).unwrap();
    let got: Vec<String> = got.exceptions.iter().map(|e| format!("{}..{}", e.from, e.to)).collect();
    assert_eq!(
        got,
        [
            "2026-03-28T08:30..2026-03-28T09:00",
            "2026-03-29T08:30..2026-03-29T09:00",
            "2026-03-30T08:30..2026-03-30T09:00"
        ]
    );

    // Every minute forever: capped, with a note, and quick.
    let text = calendar(
        "BEGIN:VEVENT\nUID:minutely\nDTSTART:20260101T000000Z\nDURATION:PT1M\nRRULE:FREQ=MINUTELY\nSUMMARY:Noise\nEND:VEVENT\n",
    );
    let got = year_2026(&text);
    assert_eq!(got.exceptions.len(), MAX_OCCURRENCES);
    assert!(got.notes[0].message.contains("5000"), "{:?}", got.notes);

    // Every second since 1970, asked about 2026: gives up after a bounded number of steps.
    let text = calendar(
        "BEGIN:VEVENT\nUID:secondly\nDTSTART:19700101T000000Z\nDURATION:PT1S\nRRULE:FREQ=SECONDLY\nSUMMARY:Noise\nEND:VEVENT\n",
    );
    let got = year_2026(&text);
    assert!(got.exceptions.is_empty());
    assert!(got.notes[0].message.contains("stopped after"), "{:?}", got.notes);
}

#[test]
fn floating_times_lowercase_names_and_vendor_zone_names() {
    let text = calendar(
        "begin:vevent\nuid:floating\ndtstart:20260601T090000\ndtend:20260601T100000\nsummary:Floating\nend:vevent\n\
         BEGIN:VTIMEZONE\nTZID:Custom Clinic Time\nX-LIC-LOCATION:Europe/Paris\nEND:VTIMEZONE\n\
         BEGIN:VEVENT\nUID:alias\nDTSTART;TZID=\"Custom Clinic Time\":20260602T100000\nDTEND;TZID=\"Custom Clinic Time\":20260602T110000\nSUMMARY:Alias\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:moz\nDTSTART;TZID=/mozilla.org/20050126_1/America/New_York:20260603T090000\nDURATION:PT30M\nSUMMARY:Mozilla\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:win\nDTSTART;TZID=Pacific Standard Time:20260604T080000\nDTEND;TZID=Pacific Standard Time:20260604T090000\nSUMMARY:Windows\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:aus\nDTSTART;TZID=AUS Eastern Standard Time:20260605T180000\nDTEND;TZID=AUS Eastern Standard Time:20260605T190000\nSUMMARY:Sydney\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:days\nDTSTART;VALUE=DATE:20260610\nDURATION:P3D\nSUMMARY:\nEND:VEVENT\n",
    );
    let got = year_2026(&text);
    assert_eq!(got.notes, vec![]);
    assert_eq!(
        got.exceptions,
        [
            spell("2026-06-01T09:00", "2026-06-01T10:00", "Floating"),
            // Paris (+2) 10:00 is London (+1) 09:00.
            spell("2026-06-02T09:00", "2026-06-02T10:00", "Alias"),
            spell("2026-06-03T14:00", "2026-06-03T14:30", "Mozilla"),
            // Los Angeles (-7) 08:00 is London 16:00.
            spell("2026-06-04T16:00", "2026-06-04T17:00", "Windows"),
            // Sydney (+10) 18:00 is London 09:00.
            spell("2026-06-05T09:00", "2026-06-05T10:00", "Sydney"),
            days("2026-06-10", "2026-06-12", "Closed"),
        ]
    );
}

#[test]
fn rdates_date_exdates_and_all_day_overrides() {
    let text = calendar(
        "BEGIN:VEVENT\nUID:clinic\nDTSTART;TZID=Europe/London:20260105T130000\nDTEND;TZID=Europe/London:20260105T140000\n\
         RRULE:FREQ=DAILY;COUNT=3\nEXDATE;VALUE=DATE:20260106\nRDATE;TZID=Europe/London:20260110T100000,20260111T100000\n\
         SUMMARY:Outreach clinic\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:fridays\nDTSTART;VALUE=DATE:20260102\nDTEND;VALUE=DATE:20260103\nRRULE:FREQ=WEEKLY;UNTIL=20260123\n\
         SUMMARY:Study day\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:fridays\nRECURRENCE-ID;VALUE=DATE:20260109\nDTSTART;VALUE=DATE:20260108\nDTEND;VALUE=DATE:20260110\n\
         SUMMARY:Study days (exam)\nEND:VEVENT\n",
    );
    let got = year_2026(&text);
    assert_eq!(got.notes, vec![]);
    assert_eq!(
        got.exceptions,
        [
            days("2026-01-02", "2026-01-02", "Study day"),
            spell("2026-01-05T13:00", "2026-01-05T14:00", "Outreach clinic"),
            spell("2026-01-07T13:00", "2026-01-07T14:00", "Outreach clinic"),
            days("2026-01-08", "2026-01-09", "Study days (exam)"),
            spell("2026-01-10T10:00", "2026-01-10T11:00", "Outreach clinic"),
            spell("2026-01-11T10:00", "2026-01-11T11:00", "Outreach clinic"),
            days("2026-01-16", "2026-01-16", "Study day"),
            days("2026-01-23", "2026-01-23", "Study day"),
        ]
    );
}

#[test]
fn nominal_days_keep_the_wall_clock_over_a_clock_change() {
    // P1D from Saturday 09:00 before the spring change ends Sunday 09:00 (23 hours later).
    let text = calendar(
        "BEGIN:VEVENT\nUID:p1d\nDTSTART;TZID=Europe/London:20260328T090000\nDURATION:P1D\nSUMMARY:Retreat\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:pt24h\nDTSTART;TZID=Europe/London:20260328T090000\nDURATION:PT24H\nSUMMARY:Exact\nEND:VEVENT\n",
    );
    let got = year_2026(&text);
    assert_eq!(
        got.exceptions,
        [
            spell("2026-03-28T09:00", "2026-03-29T09:00", "Retreat"),
            spell("2026-03-28T09:00", "2026-03-29T10:00", "Exact"),
        ]
    );
}

#[test]
fn long_summaries_are_cut_and_duplicates_merged() {
    let long = "word ".repeat(60);
    let text = calendar(&format!(
        "BEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:20260601\nSUMMARY:{long}\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:b\nDTSTART;VALUE=DATE:20260601\nSUMMARY:{long}\nEND:VEVENT\n"
    ));
    let got = year_2026(&text);
    assert_eq!(got.exceptions.len(), 1);
    let reason = &got.exceptions[0].reason;
    assert!(reason.chars().count() <= 120 && reason.ends_with('…'), "{reason:?}");
}

fn spec() -> FeedSpec {
    let mut terms = Terms::from_toml(TERMS).unwrap();
    terms.exceptions.push(spell(
        "2027-03-04T19:00",
        "2027-03-05T08:30",
        "Overnight, on a course; back\nFriday",
    ));
    FeedSpec {
        name: "Sam Rivera; clinic, private".into(),
        practitioner_id: "01890a5d-ac96-774b-bcce-b302099a8057".into(),
        zone: terms.timezone.clone(),
        office_hours: terms.office_hours.clone(),
        exceptions: terms.exceptions.clone(),
        on_call: terms.on_call.clone(),
        dated: vec![
            FeedDate {
                date: date(2027, 2, 10),
                summary: "Review: Alex Kim".into(),
                uid: "review:eng-1:4".into(),
            },
            FeedDate {
                date: date(2027, 6, 30),
                summary: "Planned ending: Alex Kim — final session, a very long summary that has to be folded".into(),
                uid: "ending:eng-1".into(),
            },
        ],
        stamp: "2026-11-30T10:00:00Z".parse().unwrap(),
    }
}

fn prop<'p>(props: &'p [ical::property::Property], name: &str) -> Vec<&'p ical::property::Property> {
    props.iter().filter(|p| p.name == name).collect()
}

fn value(props: &[ical::property::Property], name: &str) -> String {
    prop(props, name)
        .first()
        .and_then(|p| p.value.clone())
        .unwrap_or_default()
}

fn param(p: &ical::property::Property, key: &str) -> Option<String> {
    p.params
        .as_ref()?
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.join(","))
}

#[test]
fn feed_lines_are_crlf_and_folded_at_75_octets() {
    let text = feed(&spec());
    assert!(text.ends_with("END:VCALENDAR\r\n"));
    let body = text.strip_suffix("\r\n").unwrap();
    for line in body.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
    }
    assert!(text.contains("\r\n "), "something was long enough to fold");
    for needed in [
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Endwell//Endwell//EN\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n",
        "X-WR-CALNAME:Sam Rivera\\; clinic\\, private\r\n",
        "X-WR-TIMEZONE:Europe/London\r\n",
    ] {
        assert!(text.contains(needed), "{needed:?} in\n{text}");
    }
}

#[test]
fn feed_reads_with_an_independent_parser() {
    let spec = spec();
    let text = feed(&spec);
    let mut cals = ical::IcalParser::new(BufReader::new(text.as_bytes()));
    let cal = cals.next().expect("one calendar").expect("ical parses the feed");
    assert!(cals.next().is_none());

    assert_eq!(
        value(&cal.properties, "X-WR-CALNAME"),
        "Sam Rivera\\; clinic\\, private"
    );
    assert_eq!(cal.timezones.len(), 1);
    let tz = &cal.timezones[0];
    assert_eq!(value(&tz.properties, "TZID"), "Europe/London");
    let rules: Vec<(String, String, String)> = tz
        .transitions
        .iter()
        .map(|t| {
            (
                value(&t.properties, "TZOFFSETFROM"),
                value(&t.properties, "TZOFFSETTO"),
                value(&t.properties, "RRULE"),
            )
        })
        .collect();
    assert!(
        rules.contains(&(
            "+0000".into(),
            "+0100".into(),
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU".into()
        )),
        "{rules:?}"
    );
    assert!(
        rules.contains(&(
            "+0100".into(),
            "+0000".into(),
            "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU".into()
        )),
        "{rules:?}"
    );

    // 6 office-hour ranges, 1 on-call window, 3 closures, 2 dated items.
    assert_eq!(cal.events.len(), 12);
    let mut uids = std::collections::HashSet::new();
    for ev in &cal.events {
        let uid = value(&ev.properties, "UID");
        assert!(
            uid.ends_with("@endwell") && uids.insert(uid.clone()),
            "unique UID {uid}"
        );
        assert_eq!(value(&ev.properties, "DTSTAMP"), "20261130T100000Z");
    }

    let summaries = |s: &str| -> Vec<&ical::parser::ical::component::IcalEvent> {
        cal.events
            .iter()
            .filter(|e| value(&e.properties, "SUMMARY") == s)
            .collect()
    };
    let office: Vec<_> = summaries("Office hours");
    assert_eq!(office.len(), 6);
    let monday_morning = office
        .iter()
        .find(|e| value(&e.properties, "DTSTART") == "20261130T090000")
        .expect("Monday 09:00 office hours");
    let start = prop(&monday_morning.properties, "DTSTART")[0];
    assert_eq!(param(start, "TZID").as_deref(), Some("Europe/London"));
    assert_eq!(value(&monday_morning.properties, "DTEND"), "20261130T123000");
    assert_eq!(
        value(&monday_morning.properties, "RRULE"),
        "FREQ=WEEKLY;WKST=MO;BYDAY=MO"
    );
    assert_eq!(value(&monday_morning.properties, "TRANSP"), "TRANSPARENT");
    // Monday 28 December is inside the holiday: that week's office hours are taken out.
    let exdates: Vec<String> = prop(&monday_morning.properties, "EXDATE")
        .iter()
        .filter_map(|p| p.value.clone())
        .collect();
    assert_eq!(exdates, ["20261228T090000"]);
    let friday = office
        .iter()
        .find(|e| value(&e.properties, "RRULE").ends_with("BYDAY=FR"))
        .unwrap();
    let exdates: Vec<String> = prop(&friday.properties, "EXDATE")
        .iter()
        .filter_map(|p| p.value.clone())
        .collect();
    // Friday 25 December; 15 January's training only closes part of the day.
    assert_eq!(exdates, ["20261225T090000"]);

    let on_call: Vec<_> = summaries("On call (crisis only)");
    assert_eq!(on_call.len(), 1);
    assert_eq!(
        value(&on_call[0].properties, "RRULE"),
        "FREQ=WEEKLY;WKST=MO;BYDAY=SA,SU"
    );
    assert_eq!(value(&on_call[0].properties, "DTSTART"), "20261205T100000");
    assert_eq!(
        value(&on_call[0].properties, "DESCRIPTION"),
        "Reachable for crisis only by sms\\, voice"
    );

    let holiday = summaries("Closed: Holiday")[0];
    let start = prop(&holiday.properties, "DTSTART")[0];
    assert_eq!(param(start, "VALUE").as_deref(), Some("DATE"));
    assert_eq!(value(&holiday.properties, "DTSTART"), "20261224");
    assert_eq!(value(&holiday.properties, "DTEND"), "20261229");
    assert_eq!(value(&holiday.properties, "TRANSP"), "OPAQUE");
    let training = summaries("Closed: Training")[0];
    assert_eq!(value(&training.properties, "DTSTART"), "20270115T120000");
    assert_eq!(
        param(prop(&training.properties, "DTEND")[0], "TZID").as_deref(),
        Some("Europe/London")
    );
    assert!(
        summaries("Closed: Overnight\\, on a course\\; back\\nFriday")
            .is_empty()
            .then_some(())
            .is_none()
    );

    let review = summaries("Review: Alex Kim")[0];
    assert_eq!(value(&review.properties, "DTSTART"), "20270210");
    assert_eq!(value(&review.properties, "DTEND"), "20270211");
    assert!(
        summaries("Planned ending: Alex Kim — final session\\, a very long summary that has to be folded")
            .is_empty()
            .then_some(())
            .is_none()
    );
}

#[test]
fn feed_uids_are_stable_and_depend_on_the_practitioner() {
    let a = spec();
    let mut b = spec();
    b.stamp = "2027-01-20T08:00:00Z".parse().unwrap();
    let uids = |s: &FeedSpec| {
        let text = feed(s);
        let mut u: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("UID:"))
            .map(str::to_string)
            .collect();
        u.sort();
        u
    };
    assert_eq!(uids(&a), uids(&b));
    let mut c = spec();
    c.practitioner_id = "someone-else".into();
    assert!(uids(&a).iter().all(|u| !uids(&c).contains(u)));
    assert_eq!(feed(&a), feed(&a), "deterministic");
}

#[test]
fn feed_reads_back_as_its_exceptions() {
    let spec = spec();
    let text = feed(&spec);
    let got = import_ics(&text, &spec.zone, date(2026, 1, 1), date(2027, 12, 31)).unwrap();
    assert_eq!(got.notes, vec![]);
    let mut want = spec.exceptions.clone();
    want.iter_mut().for_each(|e| e.reason = e.reason.replace('\n', " "));
    assert_eq!(got.exceptions, want);
    // Office hours, on call and dated items are free time, not closures.
    assert_eq!(got.free.len(), 6 + 1 + 2);
}

#[test]
fn feed_time_zone_without_daylight_saving_and_with_changed_rules() {
    for (name, want) in [("Asia/Tokyo", 1), ("UTC", 1)] {
        let mut s = spec();
        s.zone = name.parse().unwrap();
        let text = feed(&s);
        let cal = ical::IcalParser::new(BufReader::new(text.as_bytes()))
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(cal.timezones[0].transitions.len(), want, "{name}");
        assert_eq!(value(&cal.timezones[0].properties, "TZID"), name);
        let got = import_ics(&text, &s.zone, date(2026, 1, 1), date(2027, 12, 31)).unwrap();
        assert_eq!(got.exceptions.len(), 3, "{name}");
    }
    // Australia/Lord_Howe moves by half an hour; New York by an hour on the second Sunday.
    for (name, rule) in [
        ("Australia/Lord_Howe", "BYMONTH=10;BYDAY=1SU"),
        ("America/New_York", "BYMONTH=3;BYDAY=2SU"),
    ] {
        let mut s = spec();
        s.zone = name.parse().unwrap();
        let text = feed(&s);
        assert!(text.contains(rule), "{name}: {text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// No input makes the import panic: damage the fixture at random.
    #[test]
    fn import_never_panics(cut in 0usize..4000, junk in "[A-Z:;=,\\\\\" \\r\\n0-9TZ/éß€😀-]{0,40}", at in 0usize..4000) {
        let mut text: String = LEAVE.to_string();
        let at = at.min(text.len());
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(at, &junk);
        let cut = cut.min(text.len());
        let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let text = format!("{}{}", &text[..at.min(cut)], &text[cut.max(at)..]);
        let _ = import_ics(&text, &london(), Date::MIN, Date::MAX);
        let _ = import_ics(&text, &london(), date(2026, 1, 1), date(2026, 12, 31));
    }

    /// Any event line of random text is either read or skipped with a note.
    #[test]
    fn random_property_values_never_panic(name in "(DTSTART|DTEND|DURATION|RRULE|EXDATE|RDATE|RECURRENCE-ID|SUMMARY)", params in "(;TZID=[A-Za-z/_ ]{0,12}|;VALUE=DATE|)", v in "[0-9TZPWDHMS=;,:A-Z+é€-]{0,30}") {
        let text = calendar(&format!(
            "BEGIN:VEVENT\nUID:x\nDTSTART:20260601T090000Z\nDTEND:20260601T100000Z\n{name}{params}:{v}\nSUMMARY:x\nEND:VEVENT\n"
        ));
        let _ = import_ics(&text, &london(), date(2026, 1, 1), date(2026, 12, 31));
    }
}

// ------------------------------------------------------- practitioner calendars

use endwell_core::availability::Availability;
use endwell_core::calendar::{Closures, practitioner_feed};

fn terms_in(zone: &str) -> Terms {
    let mut t = Terms::from_toml(TERMS).unwrap();
    t.timezone = zone.parse().unwrap();
    t.exceptions.clear();
    t
}

#[test]
fn closures_in_the_terms_zone_are_added_as_they_are() {
    let t = terms_in("Europe/London");
    let c = Closures {
        zone: london(),
        exceptions: vec![days("2026-12-01", "2026-12-02", "Leave")],
    };
    let merged = c.apply_to(&t);
    assert_eq!(merged.exceptions, vec![days("2026-12-01", "2026-12-02", "Leave")]);
    // The terms themselves are left alone.
    assert!(t.exceptions.is_empty());
    let a = Availability::around(&merged, "2026-12-01T10:00:00Z".parse().unwrap());
    assert!(!a.is_open("2026-12-01T10:00:00Z".parse().unwrap()));
    assert!(a.is_open("2026-12-03T10:00:00Z".parse().unwrap()));
}

#[test]
fn closures_from_another_zone_close_the_same_instants() {
    // Leave on 1 December in London is 1 Dec 00:00Z to 2 Dec 00:00Z,
    // which is 19:00 on 30 November to 19:00 on 1 December in New York.
    let t = terms_in("America/New_York");
    let c = Closures {
        zone: london(),
        exceptions: vec![days("2026-12-01", "2026-12-01", "Leave")],
    };
    let merged = c.apply_to(&t);
    assert_eq!(
        merged.exceptions,
        vec![spell("2026-11-30T19:00", "2026-12-01T19:00", "Leave")]
    );
    let a = Availability::around(&merged, "2026-12-01T15:00:00Z".parse().unwrap());
    // 10:00 in New York on 1 December: closed. On 2 December: open.
    assert!(!a.is_open("2026-12-01T15:00:00Z".parse().unwrap()));
    assert!(a.is_open("2026-12-02T15:00:00Z".parse().unwrap()));
}

#[test]
fn practitioner_feed_joins_the_hours_of_open_work_and_every_closure() {
    let mut a = terms_in("Europe/London");
    a.office_hours = Terms::starter(london(), "Sam").office_hours;
    a.exceptions = vec![days("2026-12-24", "2026-12-28", "Holiday")];
    let mut b = a.clone();
    b.office_hours.mon = vec!["16:00-20:00".parse().unwrap()];
    b.exceptions = vec![days("2026-12-24", "2026-12-28", "Holiday")];
    let other = terms_in("America/New_York");
    let cal = Closures {
        zone: london(),
        exceptions: vec![spell("2027-01-15T12:00", "2027-01-15T17:00", "Training")],
    };
    let stamp: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
    let spec = practitioner_feed("Sam", "p1", &london(), &[a, b, other], &[cal], vec![], stamp);
    assert_eq!(
        spec.office_hours.mon,
        vec!["09:00-20:00".parse().unwrap()],
        "09:00-17:00 and 16:00-20:00 join"
    );
    assert_eq!(spec.office_hours.tue, vec!["09:00-17:00".parse().unwrap()]);
    // The holiday once, the training, and nothing from the New York terms (they have no closures).
    assert_eq!(
        spec.exceptions,
        vec![
            days("2026-12-24", "2026-12-28", "Holiday"),
            spell("2027-01-15T12:00", "2027-01-15T17:00", "Training")
        ]
    );
    let text = feed(&spec);
    assert!(text.contains("Closed: Training"), "{text}");
}

#[test]
fn practitioner_feed_without_open_work_shows_starter_hours() {
    let stamp: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
    let spec = practitioner_feed("Sam", "p1", &london(), &[], &[], vec![], stamp);
    assert_eq!(spec.office_hours, Terms::starter(london(), "Sam").office_hours);
}

#[test]
fn feed_of_work_dates_reviews_and_endings_by_initials_and_skips_proposed_hours() {
    use endwell_core::calendar::{OpenWork, feed_of_work, initials};
    use endwell_core::model::Engagement;
    assert_eq!(initials("Jo  van Smith"), "J.V.S.");
    assert_eq!(initials(""), "client");
    let stamp: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
    let engagement = |state: endwell_core::EngagementState| Engagement {
        id: endwell_core::EngagementId::new(),
        client_id: endwell_core::ClientId::new(),
        practitioner_id: endwell_core::UserId::new(),
        state,
        title: "Work".into(),
        started_on: None,
        planned_end: Some(date(2027, 6, 30)),
        next_review: Some(date(2027, 1, 12)),
        created_at: stamp,
        updated_at: stamp,
    };
    let active = engagement(endwell_core::EngagementState::Active);
    let proposed = engagement(endwell_core::EngagementState::Proposed);
    let mut evenings = Terms::from_toml(TERMS).unwrap();
    evenings.office_hours.mon = vec!["18:00-20:00".parse().unwrap()];
    let usual = Terms::from_toml(TERMS).unwrap();
    let work = [
        OpenWork {
            engagement: &active,
            client_name: "Ada Okafor",
            terms: Some(&usual),
        },
        OpenWork {
            engagement: &proposed,
            client_name: "Bo",
            terms: Some(&evenings),
        },
    ];
    let spec = feed_of_work("Sam", "p1", &london(), &work, &[], stamp);
    assert_eq!(
        spec.office_hours.mon, usual.office_hours.mon,
        "proposed work's hours are not yet agreed"
    );
    let summaries: Vec<&str> = spec.dated.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "Review due (A.O.)",
            "Planned ending (A.O.)",
            "Review due (B.)",
            "Planned ending (B.)"
        ]
    );
}
