//! iCalendar in and out: leave and holidays imported as exceptions, and a
//! private feed of office hours, closures, on-call windows and dated items.
//!
//! Import reads what calendar programs export (Google Calendar, Outlook,
//! Apple Calendar, Thunderbird): every busy event is a closed spell. Times
//! are turned into the practitioner's local wall-clock times, because that is
//! how [`Exception`] stores them; recurring events are expanded only inside
//! the window asked for. One broken event is skipped with a note rather than
//! losing the whole file, since a person can act on "event X was skipped"
//! but not on "your calendar was rejected".
//!
//! The feed is written by hand rather than with the icalendar crate's
//! builder: that builder stamps events with the current time and random UIDs
//! when they are missing and folds lines by mixing character and byte
//! positions, while a subscribed feed needs byte-exact 75-octet folding and
//! output that depends only on its input (stable UIDs, the given DTSTAMP).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fmt::Write as _;

use icalendar::parser::{Component, read_calendar_simple};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{RoundMode, SignedDuration, Span, Timestamp, ToSpan, Unit};
use sha2::{Digest, Sha256};

use crate::DomainError;
use crate::availability::local_instant;
use crate::terms::{Exception, LocalPoint, OfficeHours, OnCall, Terms, TimeRange, Weekday, Zone};

/// Most occurrences of one recurring event kept from one import.
pub const MAX_OCCURRENCES: usize = 5000;
/// Most repeats of one rule looked at, inside the window or not, so that a
/// rule that repeats every second since 1970 cannot stall an import.
const MAX_STEPS: usize = 100_000;
/// Longest reason kept from an event's summary, in characters.
const MAX_REASON: usize = 120;

/// What an import found: the closed spells, and what was skipped and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CalendarImport {
    /// Sorted, without duplicates, in the practitioner's local times.
    pub exceptions: Vec<Exception>,
    /// One note per event (or part of the file) that was not imported whole.
    pub notes: Vec<ImportNote>,
    /// Events left out because they are marked free (`TRANSP:TRANSPARENT`).
    /// Google Calendar, Outlook and Apple Calendar mark all-day events free
    /// unless told otherwise, so leave entered that way lands here, where a
    /// person can see it rather than wonder why it is missing.
    pub free: Vec<ImportNote>,
}

/// Why one event was skipped or cut short, with where to find it in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportNote {
    /// The physical line (1-based) where the event begins.
    pub line: usize,
    /// The event's summary, empty when it has none.
    pub summary: String,
    pub message: String,
}

impl fmt::Display for ImportNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.summary.is_empty() {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(f, "line {} ({:?}): {}", self.line, self.summary, self.message)
        }
    }
}

/// Read an iCalendar file as closed spells overlapping the local days
/// `from..=until` in `zone`.
///
/// Cancelled events are left out. Events marked free (`TRANSP:TRANSPARENT`)
/// are not closures either; those in the window are listed in
/// [`CalendarImport::free`]. A summary of the form `Closed: reason`
/// (what [`feed`] writes) gives the reason alone, so a feed reads back as
/// the exceptions it was made from.
pub fn import_ics(text: &str, zone: &Zone, from: Date, until: Date) -> Result<CalendarImport, DomainError> {
    if until < from {
        return Err(DomainError::invalid(
            "calendar",
            format!("the import window ends ({until}) before it starts ({from})"),
        ));
    }
    let lines = unfold(text);
    let is_calendar = lines
        .first()
        .is_some_and(|l| l.text.trim_end().eq_ignore_ascii_case("BEGIN:VCALENDAR"));
    if !is_calendar {
        return Err(DomainError::invalid(
            "calendar",
            "this is not an iCalendar file: expected it to begin with BEGIN:VCALENDAR, as the .ics files \
             exported by Google Calendar, Outlook, Apple Calendar and Thunderbird do",
        ));
    }
    let mut notes = Vec::new();
    let blocks = split_blocks(&lines, &mut notes);
    let ctx = Context::new(zone, from, until, &blocks);

    let mut events = Vec::new();
    for block in blocks.iter().filter(|b| b.name == "VEVENT") {
        let note = |message: String, summary: String| ImportNote {
            line: block.line,
            summary,
            message,
        };
        if let Some(why) = &block.broken {
            notes.push(note(why.clone(), String::new()));
            continue;
        }
        match block.parse() {
            Ok(props) => match Event::read(&props, &ctx) {
                Ok(ev) => events.push((block.line, ev)),
                // A cancelled event closes nothing, readable or not.
                Err(_) if first(&props, "STATUS").is_some_and(|p| p.value.trim().eq_ignore_ascii_case("CANCELLED")) => {
                }
                Err(message) => notes.push(note(message, summary_of(&props))),
            },
            Err(message) => notes.push(note(message, String::new())),
        }
    }

    // Occurrences replaced or cancelled by an override, per UID.
    let mut overridden: HashMap<&str, Vec<Excluded>> = HashMap::new();
    for (_, ev) in &events {
        if let (Some(uid), Some(rid)) = (&ev.uid, &ev.recurrence_id) {
            overridden.entry(uid.as_str()).or_default().push(rid.clone());
        }
    }

    let mut exceptions = Vec::new();
    let mut free = Vec::new();
    for (line, ev) in &events {
        if ev.cancelled {
            continue;
        }
        let extra: &[Excluded] = match (&ev.uid, &ev.recurrence_id) {
            (Some(uid), None) => overridden.get(uid.as_str()).map(Vec::as_slice).unwrap_or(&[]),
            _ => &[],
        };
        if ev.free {
            // Listed only when it falls in the window: a whole exported
            // calendar would otherwise bury the few that matter.
            let mut found = Vec::new();
            ev.expand(&ctx, extra, &mut found, &mut |_| {});
            if !found.is_empty() {
                free.push(ImportNote {
                    line: *line,
                    summary: ev.summary.clone(),
                    message: "marked free (transparent), so not read as closed".into(),
                });
            }
            continue;
        }
        let mut note = |message: String| {
            notes.push(ImportNote {
                line: *line,
                summary: ev.summary.clone(),
                message,
            })
        };
        ev.expand(&ctx, extra, &mut exceptions, &mut note);
    }
    sort_exceptions(&mut exceptions);
    notes.sort_by_key(|n| n.line);
    Ok(CalendarImport {
        exceptions,
        notes,
        free,
    })
}

/// Chronological order (a day sorts as its midnight), then without duplicates.
fn sort_exceptions<E: std::borrow::Borrow<Exception> + PartialEq>(list: &mut Vec<E>) {
    let at = |p: LocalPoint| match p {
        LocalPoint::Day(d) => d.to_datetime(Time::midnight()),
        LocalPoint::At(dt) => dt,
    };
    let key = |e: &Exception| (at(e.from), at(e.to), e.from, e.to, e.reason.clone());
    list.sort_by_cached_key(|e| key(e.borrow()));
    list.dedup();
}

/// One content line after unfolding, with the physical line it began on.
struct Line {
    no: usize,
    text: String,
}

/// Undo RFC 5545 folding (CRLF or bare LF followed by a space or tab).
fn unfold(text: &str) -> Vec<Line> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<Line> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            last.text.push_str(rest);
            continue;
        }
        if !raw.trim().is_empty() {
            out.push(Line {
                no: i + 1,
                text: raw.to_string(),
            });
        }
    }
    out
}

/// `BEGIN:X` or `END:X`, with X upper-cased.
fn begin_end(line: &str) -> Option<(bool, String)> {
    let (key, value) = line.split_once(':')?;
    let begin = if key.trim().eq_ignore_ascii_case("BEGIN") {
        true
    } else if key.trim().eq_ignore_ascii_case("END") {
        false
    } else {
        return None;
    };
    Some((begin, value.trim().to_ascii_uppercase()))
}

/// A component directly inside VCALENDAR, as its own lines.
struct Block {
    name: String,
    line: usize,
    lines: Vec<(usize, String)>,
    broken: Option<String>,
}

/// Components that can only appear directly inside VCALENDAR: seeing one
/// inside another means the other was never closed.
const TOP_LEVEL: [&str; 6] = ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE", "VCALENDAR"];

/// Cut the calendar into its components, tolerating unclosed or mismatched
/// ones so that one damaged event does not take the rest with it.
fn split_blocks(lines: &[Line], notes: &mut Vec<ImportNote>) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(Block, Vec<String>)> = None;
    let mut in_calendar = false;
    let mut closed_calendar = false;
    for line in lines {
        let marker = begin_end(&line.text);
        if let Some((mut block, mut stack)) = open.take() {
            match &marker {
                Some((true, name)) if TOP_LEVEL.contains(&name.as_str()) => {
                    block.broken = Some(format!("BEGIN:{} has no END:{}", block.name, block.name));
                    blocks.push(block);
                    // Fall through: this line starts something new.
                }
                Some((true, name)) => {
                    stack.push(name.clone());
                    block.lines.push((line.no, line.text.clone()));
                    open = Some((block, stack));
                    continue;
                }
                Some((false, name)) => {
                    if stack.last() == Some(name) {
                        stack.pop();
                    } else if let Some(at) = stack.iter().rposition(|s| s == name) {
                        block
                            .broken
                            .get_or_insert_with(|| format!("line {}: END:{name} closes the wrong component", line.no));
                        stack.truncate(at);
                    } else if name == "VCALENDAR" {
                        block.broken = Some(format!("BEGIN:{} has no END:{}", block.name, block.name));
                        blocks.push(block);
                        in_calendar = false;
                        closed_calendar = true;
                        continue;
                    } else {
                        block
                            .broken
                            .get_or_insert_with(|| format!("line {}: END:{name} has no BEGIN", line.no));
                        continue;
                    }
                    block.lines.push((line.no, line.text.clone()));
                    if stack.is_empty() {
                        blocks.push(block);
                    } else {
                        open = Some((block, stack));
                    }
                    continue;
                }
                None => {
                    block.lines.push((line.no, line.text.clone()));
                    open = Some((block, stack));
                    continue;
                }
            }
        }
        match marker {
            Some((true, name)) if name == "VCALENDAR" => {
                in_calendar = true;
                closed_calendar = false;
            }
            Some((false, name)) if name == "VCALENDAR" => {
                in_calendar = false;
                closed_calendar = true;
            }
            Some((true, name)) if in_calendar => {
                let block = Block {
                    name: name.clone(),
                    line: line.no,
                    lines: vec![(line.no, line.text.clone())],
                    broken: None,
                };
                open = Some((block, vec![name]));
            }
            _ => {}
        }
    }
    if let Some((mut block, _)) = open {
        block.broken = Some(format!(
            "BEGIN:{} has no END:{}; the file may be cut short",
            block.name, block.name
        ));
        blocks.push(block);
    }
    if !closed_calendar {
        notes.push(ImportNote {
            line: lines.last().map_or(1, |l| l.no),
            summary: String::new(),
            message: "the file ends without END:VCALENDAR; it may be cut short".into(),
        });
    }
    blocks
}

/// A property with its name and parameter names upper-cased and TEXT unescaped.
#[derive(Debug, Clone)]
struct Prop {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl Prop {
    fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl Block {
    /// Parse the block's properties (not those of nested components such as VALARM).
    fn parse(&self) -> Result<Vec<Prop>, String> {
        let mut text = String::new();
        let mut starts = Vec::with_capacity(self.lines.len());
        for (_, line) in &self.lines {
            starts.push(text.len());
            // Property names are case-insensitive; the parser only unescapes
            // TEXT values of names it recognises, which it spells in capitals.
            let cut = line.find([';', ':']).unwrap_or(line.len());
            text.push_str(&line[..cut].to_ascii_uppercase());
            text.push_str(&line[cut..]);
            text.push_str("\r\n");
        }
        let components = read_calendar_simple(&text).map_err(|e| {
            let at = text.len().saturating_sub(e.input.len());
            let i = starts.partition_point(|&s| s <= at).saturating_sub(1);
            let no = self.lines.get(i).map_or(self.line, |(no, _)| *no);
            format!("line {no} could not be read as iCalendar")
        })?;
        let c: &Component = components
            .first()
            .ok_or_else(|| format!("the {} could not be read as iCalendar", self.name))?;
        Ok(c.properties
            .iter()
            .map(|p| Prop {
                name: p.name.as_str().to_ascii_uppercase(),
                params: p
                    .params
                    .iter()
                    .map(|q| {
                        let v = q.val.as_ref().map(|v| v.as_str()).unwrap_or_default();
                        (q.key.as_str().to_ascii_uppercase(), v.trim_matches('"').to_string())
                    })
                    .collect(),
                value: p.val.as_str().to_string(),
            })
            .collect())
    }
}

fn first<'p>(props: &'p [Prop], name: &str) -> Option<&'p Prop> {
    props.iter().find(|p| p.name == name)
}

fn summary_of(props: &[Prop]) -> String {
    first(props, "SUMMARY")
        .map(|p| clean_text(&p.value))
        .unwrap_or_default()
}

/// One line of readable text: control characters and runs of white space
/// (including escaped newlines) become one space.
fn clean_text(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The reason an exception records for an event's summary.
fn reason_of(summary: &str) -> String {
    let s = summary.strip_prefix("Closed: ").unwrap_or(summary).trim();
    if s.is_empty() {
        return "Closed".into();
    }
    if s.chars().count() <= MAX_REASON {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_REASON - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// What the import needs besides the file: the practitioner's zone, the
/// window, and the time zones the file defines for itself.
struct Context {
    tz: TimeZone,
    from: Date,
    until: Date,
    window: (Timestamp, Timestamp),
    /// TZID → IANA name, from VTIMEZONE blocks that say which zone they are.
    aliases: HashMap<String, String>,
}

impl Context {
    fn new(zone: &Zone, from: Date, until: Date, blocks: &[Block]) -> Context {
        let tz = zone.tz().clone();
        let start = local_instant(&tz, from.to_datetime(Time::midnight())).unwrap_or(Timestamp::MIN);
        let end = until
            .tomorrow()
            .ok()
            .and_then(|d| local_instant(&tz, d.to_datetime(Time::midnight())))
            .unwrap_or(Timestamp::MAX);
        let mut aliases = HashMap::new();
        for b in blocks.iter().filter(|b| b.name == "VTIMEZONE" && b.broken.is_none()) {
            let Ok(props) = b.parse() else { continue };
            let id = first(&props, "TZID").map(|p| p.value.trim().to_string());
            let location = ["X-LIC-LOCATION", "X-MICROSOFT-CDO-TZID", "X-WR-TIMEZONE"]
                .iter()
                .find_map(|n| first(&props, n))
                .map(|p| p.value.trim().to_string());
            if let (Some(id), Some(location)) = (id, location) {
                aliases.insert(id, location);
            }
        }
        Context {
            tz,
            from,
            until,
            window: (start, end),
            aliases,
        }
    }

    /// The IANA zone a TZID names: itself, a Windows name, a zone the file's
    /// VTIMEZONE points at, or a vendor prefix like `/mozilla.org/…/Europe/London`.
    fn zone(&self, tzid: &str) -> Result<TimeZone, String> {
        let tzid = tzid.trim().trim_matches('"');
        let mut candidates = vec![tzid.to_string()];
        if let Some(iana) = windows_zone(tzid) {
            candidates.push(iana.to_string());
        }
        if let Some(alias) = self.aliases.get(tzid) {
            candidates.push(alias.clone());
            if let Some(iana) = windows_zone(alias) {
                candidates.push(iana.to_string());
            }
        }
        let parts: Vec<&str> = tzid.split('/').filter(|p| !p.is_empty()).collect();
        for n in (1..=parts.len().min(3)).rev() {
            candidates.push(parts[parts.len() - n..].join("/"));
        }
        candidates
            .iter()
            .find_map(|name| TimeZone::get(name).ok())
            .ok_or_else(|| format!("the time zone {tzid:?} is not known; use an IANA name such as Europe/London"))
    }
}

/// Common Windows (Outlook, Exchange) zone names and the IANA zone each
/// stands for (CLDR's "001" territory mapping).
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("India Standard Time", "Asia/Kolkata"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Canada Central Standard Time", "America/Regina"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
];

fn windows_zone(name: &str) -> Option<&'static str> {
    WINDOWS_ZONES
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(name))
        .map(|(_, iana)| *iana)
}

/// A DATE or DATE-TIME value: a day, or a wall-clock time in a zone
/// (UTC for `Z` values, the practitioner's zone for floating ones).
#[derive(Debug, Clone)]
enum Moment {
    Day(Date),
    At(DateTime, TimeZone),
}

/// A date or date-time value with nothing attached: `20261224`, `20261224T090000`, `…Z`.
fn parse_value(v: &str) -> Option<(Date, Option<(Time, bool)>)> {
    let v = v.trim();
    let num = |s: &str| -> Option<i16> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let date_part = v.get(..8)?;
    let date = Date::new(
        num(date_part.get(..4)?)?,
        num(date_part.get(4..6)?)? as i8,
        num(date_part.get(6..8)?)? as i8,
    )
    .ok()?;
    let rest = &v[8..];
    if rest.is_empty() {
        return Some((date, None));
    }
    let rest = rest.strip_prefix(['T', 't'])?;
    let (clock, utc) = match rest.strip_suffix(['Z', 'z']) {
        Some(c) => (c, true),
        None => (rest, false),
    };
    if clock.len() != 6 || !clock.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m, s) = (num(&clock[..2])?, num(&clock[2..4])?, num(&clock[4..])?);
    let time = Time::new(h as i8, m as i8, s.min(59) as i8, 0).ok()?;
    Some((date, Some((time, utc))))
}

impl Context {
    /// One value of a DTSTART-like property.
    fn moment(&self, p: &Prop, value: &str) -> Result<Moment, String> {
        let bad = || format!("{} {value:?} is not a date or date and time", p.name);
        let (date, time) = parse_value(value).ok_or_else(bad)?;
        match time {
            None => Ok(Moment::Day(date)),
            Some((t, true)) => Ok(Moment::At(date.to_datetime(t), TimeZone::UTC)),
            Some((t, false)) => {
                let tz = match p.param("TZID") {
                    Some(id) => self.zone(id)?,
                    None => self.tz.clone(),
                };
                Ok(Moment::At(date.to_datetime(t), tz))
            }
        }
    }

    /// All values of a property that may hold a list (EXDATE, RDATE).
    fn moments(&self, p: &Prop) -> Result<Vec<Moment>, String> {
        p.value
            .split(',')
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                // RDATE;VALUE=PERIOD: the start is what matters here.
                let v = v.split_once('/').map_or(v, |(start, _)| start);
                self.moment(p, v)
            })
            .collect()
    }
}

/// How long each occurrence lasts.
#[derive(Debug, Clone)]
enum Length {
    /// Whole days (all-day events), in calendar units.
    Days(Span),
    /// An exact duration (DTEND given, or DURATION in hours and minutes).
    Exact(SignedDuration),
    /// Days and weeks in DURATION are calendar days: 09:00 stays 09:00 over a clock change.
    Nominal(Span),
}

/// An occurrence's start: a day, or a wall-clock time in the event's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Start {
    Day(Date),
    Wall(DateTime),
}

/// An occurrence taken out of a series by EXDATE or by an override.
#[derive(Debug, Clone)]
struct Excluded(Moment);

/// One VEVENT, read and checked.
struct Event {
    uid: Option<String>,
    recurrence_id: Option<Excluded>,
    summary: String,
    free: bool,
    cancelled: bool,
    /// The zone its wall-clock times are in (unused for all-day events).
    tz: TimeZone,
    start: Start,
    length: Length,
    rrule: Option<String>,
    exdates: Vec<Excluded>,
    rdates: Vec<Moment>,
}

impl Event {
    fn read(props: &[Prop], ctx: &Context) -> Result<Event, String> {
        let summary = summary_of(props);
        let value = |name: &str| first(props, name).map(|p| p.value.trim().to_ascii_uppercase());
        let free = value("TRANSP").as_deref() == Some("TRANSPARENT");
        let cancelled = value("STATUS").as_deref() == Some("CANCELLED");
        let uid = first(props, "UID")
            .map(|p| p.value.trim().to_string())
            .filter(|u| !u.is_empty());
        let recurrence_id = match first(props, "RECURRENCE-ID") {
            Some(p) => Some(Excluded(ctx.moment(p, &p.value)?)),
            None => None,
        };
        let dtstart = first(props, "DTSTART").ok_or("it has no start (DTSTART)")?;
        let (start, tz) = match ctx.moment(dtstart, &dtstart.value)? {
            Moment::Day(d) => (Start::Day(d), ctx.tz.clone()),
            Moment::At(dt, tz) => (Start::Wall(dt), tz),
        };
        let length = match (first(props, "DTEND"), first(props, "DURATION")) {
            (Some(end), _) => {
                let end = ctx.moment(end, &end.value)?;
                match start {
                    Start::Day(a) => {
                        let b = match &end {
                            Moment::Day(d) => *d,
                            Moment::At(dt, _) => dt.date(),
                        };
                        if b < a {
                            return Err("it ends before it starts".into());
                        }
                        let days = a.until(b).map_err(|_| "its dates are out of range")?.get_days().max(1);
                        Length::Days(Span::new().try_days(days).map_err(|_| "it is too long")?)
                    }
                    Start::Wall(a) => {
                        let a = local_instant(&tz, a).ok_or("its start is out of range")?;
                        let b = match &end {
                            Moment::At(dt, etz) => local_instant(etz, *dt),
                            Moment::Day(d) => local_instant(&tz, d.to_datetime(Time::midnight())),
                        }
                        .ok_or("its end is out of range")?;
                        if b < a {
                            return Err("it ends before it starts".into());
                        }
                        Length::Exact(b.duration_since(a))
                    }
                }
            }
            (None, Some(d)) => {
                let span: Span = d
                    .value
                    .trim()
                    .parse()
                    .map_err(|_| format!("DURATION {:?} is not a duration like PT1H or P2D", d.value.trim()))?;
                if span.is_negative() {
                    return Err("its DURATION is negative".into());
                }
                let calendar =
                    span.get_years() != 0 || span.get_months() != 0 || span.get_weeks() != 0 || span.get_days() != 0;
                match start {
                    Start::Day(_) => {
                        let days = Span::new()
                            .try_years(span.get_years())
                            .and_then(|s| s.try_months(span.get_months()))
                            .and_then(|s| s.try_weeks(span.get_weeks()))
                            .and_then(|s| s.try_days(span.get_days()))
                            .map_err(|_| "its DURATION is out of range")?;
                        Length::Days(if days.is_zero() { 1.day() } else { days })
                    }
                    Start::Wall(_) if calendar => Length::Nominal(span),
                    Start::Wall(_) => {
                        Length::Exact(SignedDuration::try_from(span).map_err(|_| "its DURATION is out of range")?)
                    }
                }
            }
            (None, None) => match start {
                Start::Day(_) => Length::Days(1.day()),
                Start::Wall(_) => Length::Exact(SignedDuration::ZERO),
            },
        };
        let mut exdates = Vec::new();
        let mut rdates = Vec::new();
        for p in props {
            match p.name.as_str() {
                "EXDATE" => exdates.extend(ctx.moments(p)?.into_iter().map(Excluded)),
                "RDATE" => rdates.extend(ctx.moments(p)?),
                _ => {}
            }
        }
        Ok(Event {
            uid,
            recurrence_id,
            summary,
            free,
            cancelled,
            tz,
            start,
            length,
            rrule: first(props, "RRULE").map(|p| p.value.trim().to_string()),
            exdates,
            rdates,
        })
    }

    /// A moment as a start in this event's terms (its zone, or days).
    fn start_of(&self, m: &Moment) -> Option<Start> {
        match (m, self.start) {
            (Moment::Day(d), _) => Some(Start::Day(*d)),
            (Moment::At(dt, tz), Start::Wall(_)) => Some(Start::Wall(
                local_instant(tz, *dt)?.to_zoned(self.tz.clone()).datetime(),
            )),
            (Moment::At(dt, tz), Start::Day(_)) => {
                Some(Start::Day(local_instant(tz, *dt)?.to_zoned(self.tz.clone()).date()))
            }
        }
    }

    fn excludes(&self, extra: &[Excluded], occ: Start) -> bool {
        self.exdates
            .iter()
            .chain(extra)
            .any(|Excluded(m)| match (self.start_of(m), occ) {
                (Some(Start::Day(x)), Start::Day(d)) => x == d,
                (Some(Start::Day(x)), Start::Wall(w)) => x == w.date(),
                (Some(Start::Wall(x)), Start::Wall(w)) => x == w,
                (Some(Start::Wall(x)), Start::Day(d)) => x.date() == d,
                (None, _) => false,
            })
    }

    /// One occurrence as an exception, if it overlaps the window.
    fn occurrence(&self, ctx: &Context, at: Start) -> Result<Option<Exception>, String> {
        let out_of_range = || "its times are out of range".to_string();
        match (at, &self.length) {
            (Start::Day(d), Length::Days(span)) => {
                let end = d.checked_add(*span).map_err(|_| out_of_range())?;
                let last = end.yesterday().map_err(|_| out_of_range())?.max(d);
                if d > ctx.until || last < ctx.from {
                    return Ok(None);
                }
                Ok(Some(Exception {
                    from: LocalPoint::Day(d),
                    to: LocalPoint::Day(last),
                    reason: reason_of(&self.summary),
                }))
            }
            (Start::Wall(w), length) => {
                let start = local_instant(&self.tz, w).ok_or_else(out_of_range)?;
                let end = match length {
                    Length::Exact(d) => start.checked_add(*d).map_err(|_| out_of_range())?,
                    Length::Nominal(s) | Length::Days(s) => start
                        .to_zoned(self.tz.clone())
                        .checked_add(*s)
                        .map_err(|_| out_of_range())?
                        .timestamp(),
                };
                if start >= ctx.window.1 || end < ctx.window.0 {
                    return Ok(None);
                }
                if end <= start {
                    return Err("it has no length (no end, or it ends when it starts), so it closes nothing".into());
                }
                if end == ctx.window.0 {
                    return Ok(None);
                }
                let local = |t: Timestamp, mode: RoundMode| {
                    let dt = t.to_zoned(ctx.tz.clone()).datetime();
                    dt.round(jiff::civil::DateTimeRound::new().smallest(Unit::Minute).mode(mode))
                        .unwrap_or(dt)
                };
                let (from, to) = (local(start, RoundMode::Trunc), local(end, RoundMode::Ceil));
                if to <= from {
                    // Only possible when the clocks go back during the spell.
                    return Ok(None);
                }
                Ok(Some(Exception {
                    from: LocalPoint::At(from),
                    to: LocalPoint::At(to),
                    reason: reason_of(&self.summary),
                }))
            }
            (Start::Day(_), _) => Err("its end could not be read".into()),
        }
    }

    /// Add this event's occurrences in the window to `out`.
    fn expand(&self, ctx: &Context, extra: &[Excluded], out: &mut Vec<Exception>, note: &mut dyn FnMut(String)) {
        let mut starts = Vec::new();
        match &self.rrule {
            None => starts.push(self.start),
            Some(rule) => match self.rule_starts(ctx, rule, extra.len()) {
                Ok((found, capped)) => {
                    starts.extend(found);
                    if let Some(why) = capped {
                        note(why);
                    }
                }
                Err(why) => {
                    note(why);
                    return;
                }
            },
        }
        if self.rrule.is_none() && !self.rdates.is_empty() {
            starts.push(self.start);
        }
        starts.extend(self.rdates.iter().filter_map(|m| self.start_of(m)));
        starts.sort();
        starts.dedup();
        let recurring = self.rrule.is_some() || !self.rdates.is_empty();
        let mut kept = 0;
        for at in starts {
            if recurring && self.excludes(extra, at) {
                continue;
            }
            match self.occurrence(ctx, at) {
                Ok(Some(e)) => {
                    if kept == MAX_OCCURRENCES {
                        note(format!(
                            "only the first {MAX_OCCURRENCES} repeats in the window were imported"
                        ));
                        return;
                    }
                    out.push(e);
                    kept += 1;
                }
                Ok(None) => {}
                Err(why) => {
                    note(why);
                    return;
                }
            }
        }
    }

    /// Starts of a repeat rule up to the end of the window. The rule is
    /// expanded on wall-clock times written as if they were UTC, so a
    /// weekly 09:00 stays 09:00 across clock changes (as RFC 5545 requires)
    /// and the zone rules applied are jiff's, the same as everywhere else.
    fn rule_starts(&self, ctx: &Context, rule: &str, excluded: usize) -> Result<(Vec<Start>, Option<String>), String> {
        let wall = |s: Start| match s {
            Start::Day(d) => d.to_datetime(Time::midnight()),
            Start::Wall(w) => w,
        };
        let fmt = |dt: DateTime| dt.strftime("%Y%m%dT%H%M%SZ").to_string();
        let mut parts = Vec::new();
        let mut until = None;
        for part in rule.split(';').filter(|p| !p.trim().is_empty()) {
            match part.split_once('=') {
                Some((k, v)) if k.trim().eq_ignore_ascii_case("UNTIL") => until = Some(v.trim().to_string()),
                _ => parts.push(part.trim().to_ascii_uppercase()),
            }
        }
        if let Some(u) = until {
            let (date, time) = parse_value(&u).ok_or_else(|| format!("its repeat rule's UNTIL {u:?} is not a date"))?;
            let end = match (time, self.start) {
                (None, Start::Day(_)) => date.to_datetime(Time::midnight()),
                (None, Start::Wall(_)) => date.to_datetime(Time::constant(23, 59, 59, 0)),
                (Some((t, true)), _) => {
                    let ts = local_instant(&TimeZone::UTC, date.to_datetime(t)).ok_or("its UNTIL is out of range")?;
                    match self.start {
                        Start::Wall(_) => ts.to_zoned(self.tz.clone()).datetime(),
                        Start::Day(_) => ts.to_zoned(ctx.tz.clone()).date().to_datetime(Time::midnight()),
                    }
                }
                (Some((t, false)), _) => date.to_datetime(t),
            };
            if end < wall(self.start) {
                // Ends before it begins: only the first occurrence, as many programs do.
                return Ok((vec![self.start], None));
            }
            parts.push(format!("UNTIL={}", fmt(end)));
        }
        let text = format!("DTSTART:{}\nRRULE:{}", fmt(wall(self.start)), parts.join(";"));
        let set: rrule::RRuleSet = text
            .parse()
            .map_err(|e| format!("its repeat rule could not be read: {e}"))?;
        let stop = ctx
            .until
            .checked_add(3.days())
            .unwrap_or(Date::MAX)
            .to_datetime(Time::midnight());
        // Where the window starts on this event's clock, and how many starts
        // from there on are enough to fill the cap and show that it was cut.
        let soon = match self.start {
            Start::Day(_) => ctx.from.to_datetime(Time::midnight()),
            Start::Wall(_) => ctx.window.0.to_zoned(self.tz.clone()).datetime(),
        };
        let enough = MAX_OCCURRENCES + self.exdates.len() + excluded;
        let mut found = Vec::new();
        let mut near = 0;
        for (step, occ) in (&set.limit()).into_iter().enumerate() {
            if step >= MAX_STEPS {
                return Ok((found, Some(format!("stopped after {MAX_STEPS} repeats of its rule"))));
            }
            let Ok(ts) = Timestamp::from_second(occ.timestamp()) else {
                break;
            };
            let dt = ts.to_zoned(TimeZone::UTC).datetime();
            if dt > stop {
                break;
            }
            found.push(match self.start {
                Start::Day(_) => Start::Day(dt.date()),
                Start::Wall(_) => Start::Wall(dt),
            });
            if dt >= soon {
                near += 1;
                if near > enough {
                    break;
                }
            }
        }
        Ok((found, None))
    }
}

// ---------------------------------------------------------------------------
// Feed

/// What a practitioner's private feed shows.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSpec {
    /// The calendar's name in calendar programs.
    pub name: String,
    /// Makes UIDs unique across practitioners while stable across fetches.
    pub practitioner_id: String,
    pub zone: Zone,
    pub office_hours: OfficeHours,
    pub exceptions: Vec<Exception>,
    pub on_call: Vec<OnCall>,
    /// Reviews, planned endings and other days to remember.
    pub dated: Vec<FeedDate>,
    /// When the feed was made: every DTSTAMP, and the week repeating events start.
    pub stamp: Timestamp,
}

/// An all-day item in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedDate {
    pub date: Date,
    pub summary: String,
    /// Stable identity of the item (e.g. "review:<engagement id>"), hashed into the UID.
    pub uid: String,
}

/// An RFC 5545 calendar of the practitioner's office hours, closures,
/// on-call windows and dated items, for subscription from Google Calendar,
/// Apple Calendar or Thunderbird.
///
/// Office hours, on-call windows and dated items are marked free
/// (`TRANSP:TRANSPARENT`) and closures busy, so [`import_ics`] reads a feed
/// back as exactly its closures.
pub fn feed(spec: &FeedSpec) -> String {
    let tz = spec.zone.tz();
    let zone = spec.zone.name();
    let stamp = spec.stamp.strftime("%Y%m%dT%H%M%SZ").to_string();
    let today = spec.stamp.to_zoned(tz.clone()).date();
    // Repeating events start on the Monday of the week the feed is made.
    let monday = today
        .checked_sub(Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
        .unwrap_or(today);

    let mut exceptions: Vec<&Exception> = spec.exceptions.iter().filter(|e| valid_exception(e)).collect();
    sort_exceptions(&mut exceptions);

    let mut years = (monday.year() - 1, monday.year() + 1);
    for e in &exceptions {
        if let (LocalPoint::At(a), LocalPoint::At(b)) = (e.from, e.to) {
            years = (years.0.min(a.year()), years.1.max(b.year()));
        }
    }

    let mut out = Writer::default();
    out.line("BEGIN:VCALENDAR");
    out.line("VERSION:2.0");
    out.line("PRODID:-//Endwell//Endwell//EN");
    out.line("CALSCALE:GREGORIAN");
    out.line("METHOD:PUBLISH");
    out.prop("X-WR-CALNAME", &[], &escape_text(&spec.name));
    out.prop("X-WR-TIMEZONE", &[], &escape_text(zone));
    out.line("REFRESH-INTERVAL;VALUE=DURATION:PT1H");
    out.line("X-PUBLISHED-TTL:PT1H");
    vtimezone(&mut out, &spec.zone, years.0, years.1);

    let mut uids = HashSet::new();
    let uid = |kind: &str, content: &str| {
        let mut h = Sha256::new();
        for part in [spec.practitioner_id.as_str(), kind, content] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        format!("{}@endwell", &hex::encode(h.finalize())[..32])
    };
    let tzid = [("TZID", zone)];
    let local = |dt: DateTime| dt.strftime("%Y%m%dT%H%M%S").to_string();
    let day = |d: Date| d.strftime("%Y%m%d").to_string();

    // Weekly office hours and on-call windows, without the weeks a closure covers.
    let mut weekly = |out: &mut Writer, id: String, days: &[Weekday], range: TimeRange, summary: &str, about: &str| {
        if !uids.insert(id.clone()) {
            return;
        }
        let Some(&first_day) = days.iter().min() else { return };
        let Ok(date) = monday.checked_add(Span::new().days(first_day as i64)) else {
            return;
        };
        let Some((start, end)) = range_on(date, range) else {
            return;
        };
        out.line("BEGIN:VEVENT");
        out.prop("UID", &[], &id);
        out.prop("DTSTAMP", &[], &stamp);
        out.prop("DTSTART", &tzid, &local(start));
        out.prop("DTEND", &tzid, &local(end));
        let byday: Vec<&str> = days.iter().map(|d| ICAL_DAYS[*d as usize]).collect();
        out.prop("RRULE", &[], &format!("FREQ=WEEKLY;WKST=MO;BYDAY={}", byday.join(",")));
        for closed in closed_days(&exceptions, date, days, range) {
            if let Some((s, _)) = range_on(closed, range) {
                out.prop("EXDATE", &tzid, &local(s));
            }
        }
        out.prop("SUMMARY", &[], &escape_text(summary));
        if !about.is_empty() {
            out.prop("DESCRIPTION", &[], &escape_text(about));
        }
        out.line("TRANSP:TRANSPARENT");
        out.line("END:VEVENT");
    };
    for wd in Weekday::ALL {
        for range in spec.office_hours.day(wd) {
            let id = uid("office-hours", &format!("{wd} {range}"));
            weekly(&mut out, id, &[wd], *range, "Office hours", "");
        }
    }
    for oc in &spec.on_call {
        let mut days = oc.days.clone();
        days.sort();
        days.dedup();
        let channels: Vec<&str> = oc.channels.iter().map(|c| c.key()).collect();
        let keys: Vec<&str> = days.iter().map(|d| d.key()).collect();
        let id = uid(
            "on-call",
            &format!("{} {} {}", keys.join(","), oc.hours, channels.join(",")),
        );
        let about = if channels.is_empty() {
            String::new()
        } else {
            format!("Reachable for crisis only by {}", channels.join(", "))
        };
        weekly(&mut out, id, &days, oc.hours, "On call (crisis only)", &about);
    }

    for e in exceptions {
        let id = uid("closed", &format!("{} {} {}", e.from, e.to, e.reason));
        let summary = if e.reason.trim().is_empty() {
            "Closed".to_string()
        } else {
            format!("Closed: {}", e.reason.trim())
        };
        let (start, end) = match (e.from, e.to) {
            (LocalPoint::Day(a), LocalPoint::Day(b)) => match b.tomorrow() {
                Ok(after) => ((vec![("VALUE", "DATE")], day(a)), (vec![("VALUE", "DATE")], day(after))),
                Err(_) => continue,
            },
            (LocalPoint::At(a), LocalPoint::At(b)) => ((tzid.to_vec(), local(a)), (tzid.to_vec(), local(b))),
            _ => continue,
        };
        if !uids.insert(id.clone()) {
            continue;
        }
        out.line("BEGIN:VEVENT");
        out.prop("UID", &[], &id);
        out.prop("DTSTAMP", &[], &stamp);
        out.prop("DTSTART", &start.0, &start.1);
        out.prop("DTEND", &end.0, &end.1);
        out.prop("SUMMARY", &[], &escape_text(&summary));
        out.line("TRANSP:OPAQUE");
        out.line("END:VEVENT");
    }

    for d in &spec.dated {
        let id = uid("dated", &d.uid);
        let Ok(after) = d.date.tomorrow() else { continue };
        if !uids.insert(id.clone()) {
            continue;
        }
        out.line("BEGIN:VEVENT");
        out.prop("UID", &[], &id);
        out.prop("DTSTAMP", &[], &stamp);
        out.prop("DTSTART", &[("VALUE", "DATE")], &day(d.date));
        out.prop("DTEND", &[("VALUE", "DATE")], &day(after));
        out.prop("SUMMARY", &[], &escape_text(d.summary.trim()));
        out.line("TRANSP:TRANSPARENT");
        out.line("END:VEVENT");
    }
    out.line("END:VCALENDAR");
    out.0
}

const ICAL_DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

fn valid_exception(e: &Exception) -> bool {
    match (e.from, e.to) {
        (LocalPoint::Day(a), LocalPoint::Day(b)) => a <= b,
        (LocalPoint::At(a), LocalPoint::At(b)) => a < b,
        _ => false,
    }
}

/// A range on one day as local date-times (24:00 is the next midnight).
fn range_on(date: Date, range: TimeRange) -> Option<(DateTime, DateTime)> {
    let start = date.to_datetime(range.start_time());
    let end = match range.end_time() {
        Some(t) => date.to_datetime(t),
        None => date.tomorrow().ok()?.to_datetime(Time::midnight()),
    };
    Some((start, end))
}

/// Days from `first` on, on one of `days`, whose `range` one closure covers whole.
fn closed_days(exceptions: &[&Exception], first: Date, days: &[Weekday], range: TimeRange) -> Vec<Date> {
    const MAX_DAYS: i64 = 366 * 5;
    let mut out = Vec::new();
    for e in exceptions {
        let (a, b) = match (e.from, e.to) {
            (LocalPoint::Day(a), LocalPoint::Day(b)) => (a, b),
            (LocalPoint::At(a), LocalPoint::At(b)) => (a.date(), b.date()),
            _ => continue,
        };
        let mut d = a.max(first);
        let mut n = 0;
        while d <= b && n < MAX_DAYS {
            let covered = match (e.from, e.to, range_on(d, range)) {
                (LocalPoint::Day(_), _, Some(_)) => true,
                (LocalPoint::At(x), LocalPoint::At(y), Some((s, t))) => x <= s && t <= y,
                _ => false,
            };
            if covered && days.contains(&Weekday::of(d)) {
                out.push(d);
            }
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
            n += 1;
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A VTIMEZONE for the zone: two yearly rules when the zone's clock changes
/// in `first..=last` follow one (the usual case), otherwise each change
/// listed. Calendar programs mostly go by the IANA TZID; this is for those
/// that read the definition.
fn vtimezone(out: &mut Writer, zone: &Zone, first: i16, last: i16) {
    let tz = zone.tz();
    let at_year = |y: i16| {
        Date::new(y, 1, 1)
            .ok()
            .and_then(|d| local_instant(tz, d.to_datetime(Time::midnight())))
    };
    let (Some(start), Some(end)) = (at_year(first), at_year(last.saturating_add(1))) else {
        return;
    };
    struct Change {
        at: Timestamp,
        before: Offset,
        after: Offset,
        dst: bool,
        name: String,
    }
    let changes: Vec<Change> = tz
        .following(start)
        .take_while(|t| t.timestamp() < end)
        .take(1000)
        .filter_map(|t| {
            let before = tz.to_offset(t.timestamp().checked_sub(SignedDuration::from_secs(1)).ok()?);
            (before != t.offset()).then(|| Change {
                at: t.timestamp(),
                before,
                after: t.offset(),
                dst: t.dst().is_dst(),
                name: t.abbreviation().to_string(),
            })
        })
        .collect();
    let wall = |c: &Change| c.at.to_zoned(TimeZone::fixed(c.before)).datetime();
    out.line("BEGIN:VTIMEZONE");
    out.prop("TZID", &[], zone.name());
    out.prop("X-LIC-LOCATION", &[], zone.name());
    let observance =
        |out: &mut Writer, dst: bool, from: DateTime, before: Offset, after: Offset, name: &str, rule: Option<&str>| {
            let kind = if dst { "DAYLIGHT" } else { "STANDARD" };
            out.line(&format!("BEGIN:{kind}"));
            out.prop("DTSTART", &[], &from.strftime("%Y%m%dT%H%M%S").to_string());
            out.prop("TZOFFSETFROM", &[], &offset_text(before));
            out.prop("TZOFFSETTO", &[], &offset_text(after));
            if !name.is_empty() {
                out.prop("TZNAME", &[], &escape_text(name));
            }
            if let Some(rule) = rule {
                out.prop("RRULE", &[], rule);
            }
            out.line(&format!("END:{kind}"));
        };
    let rules: Option<Vec<(&Change, String)>> = (|| {
        let mut groups: Vec<Vec<&Change>> = Vec::new();
        for c in &changes {
            match groups.iter_mut().find(|g| g[0].dst == c.dst) {
                Some(g) => g.push(c),
                None => groups.push(vec![c]),
            }
        }
        if groups.len() != 2 {
            return None;
        }
        groups
            .iter()
            .map(|g| {
                let first = g[0];
                let rule = yearly_rule(wall(first))?;
                let mut year = wall(first).year();
                for c in g {
                    let same = c.before == first.before && c.after == first.after && c.name == first.name;
                    if !same
                        || wall(c).year() != year
                        || yearly_rule(wall(c)).as_ref() != Some(&rule)
                        || wall(c).time() != wall(first).time()
                    {
                        return None;
                    }
                    year += 1;
                }
                // Still in force at the end of the covered years.
                (year > last).then_some((first, rule))
            })
            .collect()
    })();
    match rules {
        Some(rules) => {
            for (c, rule) in rules {
                observance(out, c.dst, wall(c), c.before, c.after, &c.name, Some(&rule));
            }
        }
        None => {
            let info = tz.to_offset_info(start);
            let offset = info.offset();
            let from = start.to_zoned(TimeZone::fixed(offset)).datetime();
            observance(
                out,
                info.dst().is_dst(),
                from,
                offset,
                offset,
                info.abbreviation(),
                None,
            );
            for c in &changes {
                observance(out, c.dst, wall(c), c.before, c.after, &c.name, None);
            }
        }
    }
    out.line("END:VTIMEZONE");
}

/// `FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU` for a change on the last Sunday of
/// March, `BYDAY=2SU` for the second Sunday, and so on.
fn yearly_rule(at: DateTime) -> Option<String> {
    let day = at.day();
    let nth = if day + 7 > at.date().days_in_month() {
        "-1".to_string()
    } else {
        ((day - 1) / 7 + 1).to_string()
    };
    let wd = ICAL_DAYS.get(at.weekday().to_monday_zero_offset() as usize)?;
    Some(format!("FREQ=YEARLY;BYMONTH={};BYDAY={nth}{wd}", at.month()))
}

fn offset_text(o: Offset) -> String {
    let s = o.seconds();
    let sign = if s < 0 { '-' } else { '+' };
    let a = s.unsigned_abs();
    let (h, m, sec) = (a / 3600, a / 60 % 60, a % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// RFC 5545 TEXT escaping; other control characters are not allowed in TEXT.
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let s = s.replace("\r\n", "\n");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' | '\r' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Content lines ending in CRLF and folded at 75 octets, never inside a character.
#[derive(Default)]
struct Writer(String);

impl Writer {
    fn line(&mut self, line: &str) {
        let mut rest = line;
        let mut limit = 75;
        loop {
            if rest.len() <= limit {
                self.0.push_str(rest);
                self.0.push_str("\r\n");
                return;
            }
            let mut cut = limit;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            self.0.push_str(&rest[..cut]);
            self.0.push_str("\r\n ");
            rest = &rest[cut..];
            // The leading space of a continuation line counts.
            limit = 74;
        }
    }

    fn prop(&mut self, name: &str, params: &[(&str, &str)], value: &str) {
        let mut line = String::from(name);
        for (k, v) in params {
            let quote = v.contains([':', ';', ',']);
            let v = v.replace('"', "");
            if quote {
                let _ = write!(line, ";{k}=\"{v}\"");
            } else {
                let _ = write!(line, ";{k}={v}");
            }
        }
        line.push(':');
        line.push_str(value);
        self.line(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_windows_name_maps_to_a_known_zone() {
        for name in [
            "GMT Standard Time",
            "FLE Standard Time",
            "Argentina Standard Time",
            "Coordinated Universal Time",
        ] {
            let iana = windows_zone(name).unwrap();
            assert!(TimeZone::get(iana).is_ok(), "{name} → {iana}");
        }
        assert_eq!(windows_zone("eastern standard time"), Some("America/New_York"));
        assert_eq!(windows_zone("Europe/London"), None);
    }

    #[test]
    fn folding_counts_octets_and_never_splits_a_character() {
        let mut w = Writer::default();
        let line = format!("SUMMARY:{}", "é".repeat(100));
        w.line(&line);
        let physical: Vec<&str> = w.0.strip_suffix("\r\n").unwrap().split("\r\n").collect();
        assert!(physical.iter().all(|l| l.len() <= 75), "{physical:?}");
        assert!(physical[1..].iter().all(|l| l.starts_with(' ')));
        let unfolded: String = physical
            .iter()
            .enumerate()
            .map(|(i, l)| if i == 0 { *l } else { &l[1..] })
            .collect();
        assert_eq!(unfolded, line);
    }

    #[test]
    fn text_values_are_escaped() {
        assert_eq!(escape_text("a\\b;c,d\r\ne\tf\u{7}"), "a\\\\b\\;c\\,d\\ne f");
    }

    #[test]
    fn offsets_are_written_as_rfc_5545_utc_offsets() {
        assert_eq!(offset_text(Offset::constant(0)), "+0000");
        assert_eq!(
            offset_text(Offset::from_seconds(-(3 * 3600 + 30 * 60)).unwrap()),
            "-0330"
        );
        assert_eq!(offset_text(Offset::from_seconds(-75).unwrap()), "-000115");
    }

    #[test]
    fn values_parse_strictly() {
        assert!(parse_value("20261224").is_some());
        assert!(parse_value("20261224T090000Z").is_some_and(|(_, t)| t.unwrap().1));
        for bad in [
            "2026122",
            "20261324",
            "20261224T0900",
            "20261224T09000Z",
            "2026-12-24",
            "20261224X090000",
            "é",
            "20261224T1é234",
            "2026é224",
        ] {
            assert!(parse_value(bad).is_none(), "{bad}");
        }
    }
}

// ---------------------------------------------------------------------------
// A practitioner's own calendars

/// Days before today that a kept calendar is still read for (so this week is whole).
const KEPT_BEFORE_DAYS: i64 = 7;
/// Days after today: the availability horizon (one year) and a little more.
const KEPT_AFTER_DAYS: i64 = 400;

/// Read a calendar a practitioner keeps in Endwell: its closures over the
/// window around `now` (this week to past the one-year horizon), and what
/// was not used, in words (free events say how to make them count).
pub fn read_kept(text: &str, zone: &Zone, now: Timestamp) -> Result<(Vec<Exception>, Vec<String>), DomainError> {
    let today = now.to_zoned(zone.tz().clone()).date();
    let from = today.checked_sub(KEPT_BEFORE_DAYS.days()).unwrap_or(today);
    let until = today.checked_add(KEPT_AFTER_DAYS.days()).unwrap_or(today);
    let import = import_ics(text, zone, from, until)?;
    let mut notes: Vec<String> = import.notes.iter().map(|n| n.to_string()).collect();
    notes.extend(
        import
            .free
            .iter()
            .map(|n| format!("{n} (marked free, so office hours stay open; mark it busy to close them)")),
    );
    Ok((import.exceptions, notes))
}

/// A practitioner's closures (leave, holidays, training) imported from their
/// calendars, in the zone they were read in.
#[derive(Debug, Clone, PartialEq)]
pub struct Closures {
    pub zone: Zone,
    pub exceptions: Vec<Exception>,
}

impl Closures {
    /// The terms with these closures added, so that leave entered once in a
    /// calendar closes every engagement's office hours. A closure read in
    /// another zone than the terms' is carried over as the same instants.
    pub fn apply_to(&self, terms: &Terms) -> Terms {
        let mut out = terms.clone();
        if self.exceptions.is_empty() {
            return out;
        }
        if self.zone == terms.timezone {
            out.exceptions.extend(self.exceptions.iter().cloned());
            return out;
        }
        let (from, to) = (self.zone.tz(), terms.timezone.tz());
        for e in &self.exceptions {
            let Some((start, end)) = instants(from, e) else {
                continue;
            };
            let local = |t: Timestamp| t.to_zoned(to.clone()).datetime();
            let (a, b) = (local(start), local(end));
            // A spell that folds to nothing in the other zone closes nothing.
            if a < b {
                out.exceptions.push(Exception {
                    from: LocalPoint::At(a),
                    to: LocalPoint::At(b),
                    reason: e.reason.clone(),
                });
            }
        }
        out
    }
}

/// A closure as an instant interval in `tz`; whole days run from local
/// midnight to the midnight after `to`.
fn instants(tz: &TimeZone, e: &Exception) -> Option<(Timestamp, Timestamp)> {
    let (start, end) = match (e.from, e.to) {
        (LocalPoint::Day(a), LocalPoint::Day(b)) => (
            a.to_zoned(tz.clone()).ok()?.timestamp(),
            b.tomorrow().ok()?.to_zoned(tz.clone()).ok()?.timestamp(),
        ),
        (LocalPoint::At(a), LocalPoint::At(b)) => (local_instant(tz, a)?, local_instant(tz, b)?),
        _ => return None,
    };
    (start < end).then_some((start, end))
}

/// One engagement that is not closed, as the practitioner's feed sees it.
pub struct OpenWork<'a> {
    pub engagement: &'a crate::model::Engagement,
    pub client_name: &'a str,
    /// The terms in force, if any were written.
    pub terms: Option<&'a Terms>,
}

/// The next review and the planned ending of each piece of open work.
/// Clients appear by initials only: calendar services keep copies of what
/// they subscribe to, and a feed link can be passed on.
pub fn work_dates(work: &[OpenWork]) -> Vec<FeedDate> {
    let mut dated = Vec::new();
    for w in work {
        let who = initials(w.client_name);
        let e = w.engagement;
        if let Some(d) = e.next_review {
            dated.push(FeedDate {
                date: d,
                summary: format!("Review due ({who})"),
                uid: format!("review:{}", e.id),
            });
        }
        if let Some(d) = e.planned_end {
            dated.push(FeedDate {
                date: d,
                summary: format!("Planned ending ({who})"),
                uid: format!("ending:{}", e.id),
            });
        }
    }
    dated
}

/// "Jo Smith" → "J.S."; "client" when there is no name.
pub fn initials(name: &str) -> String {
    let s: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .flat_map(|c| c.to_uppercase().chain(std::iter::once('.')))
        .collect();
    if s.is_empty() { "client".into() } else { s }
}

/// The feed of one practitioner from their open work: the office hours and
/// on-call windows of the work under way (not merely proposed), every
/// closure of its terms and of the practitioner's calendars, and the work's
/// review and ending dates ([`work_dates`]).
pub fn feed_of_work(
    name: &str,
    practitioner_id: &str,
    zone: &Zone,
    work: &[OpenWork],
    closures: &[Closures],
    stamp: Timestamp,
) -> FeedSpec {
    let terms: Vec<Terms> = work
        .iter()
        .filter(|w| w.engagement.state != crate::lifecycle::EngagementState::Proposed)
        .filter_map(|w| w.terms.cloned())
        .collect();
    practitioner_feed(name, practitioner_id, zone, &terms, closures, work_dates(work), stamp)
}

/// The feed of one practitioner: the office hours and on-call windows of the
/// terms of their open work (those written in the practitioner's zone; the
/// weekday starter hours when there are none), every closure from those
/// terms and from the practitioner's own calendars, and dated items.
pub fn practitioner_feed(
    name: &str,
    practitioner_id: &str,
    zone: &Zone,
    terms: &[Terms],
    closures: &[Closures],
    dated: Vec<FeedDate>,
    stamp: Timestamp,
) -> FeedSpec {
    let local: Vec<&Terms> = terms.iter().filter(|t| &t.timezone == zone).collect();
    let mut office_hours = OfficeHours::default();
    if local.is_empty() {
        office_hours = Terms::starter(zone.clone(), name).office_hours;
    }
    let mut on_call: Vec<OnCall> = Vec::new();
    let mut exceptions: Vec<Exception> = Vec::new();
    for t in &local {
        for d in Weekday::ALL {
            let day = office_hours.day_mut(d);
            day.extend_from_slice(t.office_hours.day(d));
            *day = merge_ranges(std::mem::take(day));
        }
        for o in &t.on_call {
            if !on_call.contains(o) {
                on_call.push(o.clone());
            }
        }
    }
    // Closures of every engagement's terms and of the calendars, carried into
    // the practitioner's zone where they were written in another.
    let starter = Terms::starter(zone.clone(), name);
    for t in terms {
        let carried = Closures {
            zone: t.timezone.clone(),
            exceptions: t.exceptions.clone(),
        }
        .apply_to(&starter);
        exceptions.extend(carried.exceptions);
    }
    for c in closures {
        exceptions.extend(c.apply_to(&starter).exceptions);
    }
    let mut unique: Vec<Exception> = Vec::with_capacity(exceptions.len());
    for e in exceptions {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    FeedSpec {
        name: format!("{name}: office hours (Endwell)"),
        practitioner_id: practitioner_id.to_string(),
        zone: zone.clone(),
        office_hours,
        exceptions: unique,
        on_call,
        dated,
        stamp,
    }
}

/// Sorted ranges with overlapping or touching ones joined.
fn merge_ranges(mut ranges: Vec<TimeRange>) -> Vec<TimeRange> {
    ranges.sort();
    let mut out: Vec<TimeRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}
