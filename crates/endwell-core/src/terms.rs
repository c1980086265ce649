//! The terms of an engagement, exactly the TOML structure of DESIGN.md.
//!
//! The same structure is an agreement version's content, the CLI's
//! `--terms FILE` and the API's JSON. Values are parsed into types when read
//! (time zones, ranges, dates), so code that holds a `Terms` never re-checks.
//! Unknown keys are errors naming the key and the line.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Time};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// The agreed terms of a working relationship.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// IANA time zone the office hours are written in.
    pub timezone: Zone,
    /// How soon the practitioner answers, counted in open hours.
    #[serde(default = "default_response_time")]
    pub response_time_hours: u32,
    #[serde(default)]
    pub practitioner: PractitionerTerms,
    pub office_hours: OfficeHours,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<Exception>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_call: Vec<OnCall>,
    #[serde(default)]
    pub auto_reply: AutoReply,
    #[serde(default)]
    pub crisis: Crisis,
    #[serde(default)]
    pub channels: Channels,
    #[serde(default)]
    pub engagement: EngagementTerms,
}

fn default_response_time() -> u32 {
    24
}

impl Terms {
    /// Read terms from TOML. Errors name the key and line.
    pub fn from_toml(text: &str) -> Result<Terms, DomainError> {
        let terms: Terms = toml::from_str(text).map_err(|e| DomainError::Terms(toml_error(text, &e)))?;
        terms.check()?;
        Ok(terms)
    }

    /// Read terms from JSON (the API's form). Errors name the key and position.
    pub fn from_json(value: serde_json::Value) -> Result<Terms, DomainError> {
        let terms: Terms = serde_json::from_value(value).map_err(|e| DomainError::Terms(e.to_string()))?;
        terms.check()?;
        Ok(terms)
    }

    /// Write terms as TOML, in the shape DESIGN.md documents.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("terms always serialize to TOML")
    }

    /// Rules that span several keys and so cannot be checked while parsing.
    fn check(&self) -> Result<(), DomainError> {
        if let (Some(n), Some(once)) = (self.auto_reply.every_days, self.auto_reply.once_per)
            && once == OncePer::ClosedPeriod
        {
            return Err(DomainError::invalid(
                "auto_reply",
                format!("give either once_per = \"closed_period\" or every_days = {n}, not both"),
            ));
        }
        if self.auto_reply.every_days == Some(0) {
            return Err(DomainError::invalid("auto_reply.every_days", "must be at least 1"));
        }
        crate::compose::Templates::from_terms(self)?;
        Ok(())
    }

    /// Sensible terms for a new engagement: weekday office hours, no auto-reply text of one's own.
    pub fn starter(timezone: Zone, name: &str) -> Terms {
        let day = || vec!["09:00-17:00".parse().expect("valid range")];
        Terms {
            timezone,
            response_time_hours: 24,
            practitioner: PractitionerTerms {
                name: name.to_string(),
                addresses: Vec::new(),
            },
            office_hours: OfficeHours {
                mon: day(),
                tue: day(),
                wed: day(),
                thu: day(),
                fri: day(),
                sat: Vec::new(),
                sun: Vec::new(),
            },
            exceptions: Vec::new(),
            on_call: Vec::new(),
            auto_reply: AutoReply::default(),
            crisis: Crisis::default(),
            channels: Channels::default(),
            engagement: EngagementTerms::default(),
        }
    }
}

/// The toml crate's message already names the key; make sure the line is there too.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim_end().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let key = text.lines().nth(line - 1).map(|l| l.trim()).unwrap_or_default();
            format!("line {line}: {msg} (at `{key}`)")
        }
        None => msg,
    }
}

/// An IANA time zone name known to the time zone database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl Zone {
    /// UTC, for accounts that hold no zone Endwell knows.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }
}

impl FromStr for Zone {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        jiff::tz::TimeZone::get(name)
            .map(|tz| Zone {
                name: name.to_string(),
                tz,
            })
            .map_err(|_| {
                DomainError::invalid(
                    "timezone",
                    format!("{name:?} is not a known IANA time zone (for example Europe/London or America/New_York)"),
                )
            })
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Serialize and deserialize a type through its `Display`/`FromStr`, so the
/// error from parsing reaches the person with the key and line attached.
macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse()
                    .map_err(|e: DomainError| serde::de::Error::custom(message_of(&e)))
            }
        }
    };
}

fn message_of(e: &DomainError) -> String {
    match e {
        DomainError::Invalid { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

string_serde!(Zone);
string_serde!(TimeRange);
string_serde!(Weekday);
string_serde!(LocalPoint);

/// A range of local time within one day: `"09:00-12:30"`; `"24:00"` may end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeRange {
    /// Minutes after local midnight, 0..1440.
    pub start: u16,
    /// Minutes after local midnight, start+1..=1440.
    pub end: u16,
}

impl TimeRange {
    pub fn start_time(&self) -> Time {
        minutes_to_time(self.start)
    }
    /// `None` for 24:00 (the end of the day).
    pub fn end_time(&self) -> Option<Time> {
        (self.end < 1440).then(|| minutes_to_time(self.end))
    }
}

fn minutes_to_time(m: u16) -> Time {
    Time::constant((m / 60) as i8, (m % 60) as i8, 0, 0)
}

fn parse_hhmm(s: &str, allow_24: bool) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 {
        return None;
    }
    let total = h * 60 + m;
    if h < 24 || (allow_24 && total == 1440) {
        Some(total)
    } else {
        None
    }
}

impl FromStr for TimeRange {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            DomainError::invalid(
                "hours",
                format!("{s:?} {why}; write a range like \"09:00-17:00\" (\"24:00\" may end a day)"),
            )
        };
        let (a, b) = s.split_once('-').ok_or_else(|| bad("is not a range"))?;
        let start = parse_hhmm(a, false).ok_or_else(|| bad("has a start that is not a time"))?;
        let end = parse_hhmm(b, true).ok_or_else(|| bad("has an end that is not a time"))?;
        if end <= start {
            return Err(bad("ends before it starts (a range over midnight is written as two)"));
        }
        Ok(TimeRange { start, end })
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// A day of the week as written in terms: `mon` … `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    pub fn key(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self as usize]
    }
    /// The weekday of a civil date.
    pub fn of(date: jiff::civil::Date) -> Weekday {
        Weekday::ALL[date.weekday().to_monday_zero_offset() as usize]
    }
    pub fn name(self) -> &'static str {
        [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ][self as usize]
    }
}

impl FromStr for Weekday {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Weekday::ALL.into_iter().find(|d| d.key() == s.trim()).ok_or_else(|| {
            DomainError::invalid(
                "days",
                format!("{s:?} is not a day; use mon, tue, wed, thu, fri, sat or sun"),
            )
        })
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Weekly office hours: for each day, ranges in order that do not overlap.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeHours {
    #[serde(default, deserialize_with = "day_ranges")]
    pub mon: Vec<TimeRange>,
    #[serde(default, deserialize_with = "day_ranges")]
    pub tue: Vec<TimeRange>,
    #[serde(default, deserialize_with = "day_ranges")]
    pub wed: Vec<TimeRange>,
    #[serde(default, deserialize_with = "day_ranges")]
    pub thu: Vec<TimeRange>,
    #[serde(default, deserialize_with = "day_ranges")]
    pub fri: Vec<TimeRange>,
    #[serde(default, deserialize_with = "day_ranges")]
    pub sat: Vec<TimeRange>,
    #[serde(default, deserialize_with = "day_ranges")]
    pub sun: Vec<TimeRange>,
}

impl OfficeHours {
    pub fn day(&self, d: Weekday) -> &[TimeRange] {
        match d {
            Weekday::Mon => &self.mon,
            Weekday::Tue => &self.tue,
            Weekday::Wed => &self.wed,
            Weekday::Thu => &self.thu,
            Weekday::Fri => &self.fri,
            Weekday::Sat => &self.sat,
            Weekday::Sun => &self.sun,
        }
    }

    pub fn day_mut(&mut self, d: Weekday) -> &mut Vec<TimeRange> {
        match d {
            Weekday::Mon => &mut self.mon,
            Weekday::Tue => &mut self.tue,
            Weekday::Wed => &mut self.wed,
            Weekday::Thu => &mut self.thu,
            Weekday::Fri => &mut self.fri,
            Weekday::Sat => &mut self.sat,
            Weekday::Sun => &mut self.sun,
        }
    }

    /// Parse one day's ranges as a person types them: `"09:00-12:30, 13:30-17:00"`.
    pub fn parse_day(text: &str) -> Result<Vec<TimeRange>, DomainError> {
        let ranges = text
            .split([',', ';', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<TimeRange>, _>>()?;
        check_day(ranges).map_err(|m| DomainError::invalid("hours", m))
    }
}

/// Ranges of one day: sorted, and none overlapping another (touching is fine).
fn check_day(mut ranges: Vec<TimeRange>) -> Result<Vec<TimeRange>, String> {
    ranges.sort();
    for w in ranges.windows(2) {
        if w[1].start < w[0].end {
            return Err(format!("{} overlaps {}", w[0], w[1]));
        }
    }
    Ok(ranges)
}

fn day_ranges<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TimeRange>, D::Error> {
    let ranges = Vec::<TimeRange>::deserialize(d)?;
    check_day(ranges).map_err(serde::de::Error::custom)
}

/// A local date (`2026-12-24`) or local date and time (`2027-01-15T12:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LocalPoint {
    Day(Date),
    At(DateTime),
}

impl FromStr for LocalPoint {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || {
            DomainError::invalid(
                "exceptions",
                format!("{s:?} is neither a date (2026-12-24) nor a local date and time (2027-01-15T12:00)"),
            )
        };
        if s.contains('T') {
            s.parse::<DateTime>().map(LocalPoint::At).map_err(|_| bad())
        } else {
            s.parse::<Date>().map(LocalPoint::Day).map_err(|_| bad())
        }
    }
}

impl fmt::Display for LocalPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalPoint::Day(d) => write!(f, "{d}"),
            LocalPoint::At(dt) => write!(f, "{}", dt.strftime("%Y-%m-%dT%H:%M")),
        }
    }
}

/// A closed spell: whole local days (`to` inclusive) or a spell between two local times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawException")]
pub struct Exception {
    pub from: LocalPoint,
    pub to: LocalPoint,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Exception {
    /// When, in words a person reads at a glance: "Fri 27 Nov 2026,
    /// 16:00–17:00", "Thu 24 Dec – Mon 28 Dec 2026".
    pub fn when(&self) -> String {
        let day = |d: Date| d.strftime("%a %-d %b %Y").to_string();
        let short = |d: Date| d.strftime("%a %-d %b").to_string();
        let range = |a: Date, b: Date| {
            if a == b {
                day(a)
            } else if a.year() == b.year() {
                format!("{} – {}", short(a), day(b))
            } else {
                format!("{} – {}", day(a), day(b))
            }
        };
        match (self.from, self.to) {
            (LocalPoint::Day(a), LocalPoint::Day(b)) => range(a, b),
            (LocalPoint::At(a), LocalPoint::At(b)) if a.date() == b.date() => {
                format!("{}, {}–{}", day(a.date()), a.strftime("%H:%M"), b.strftime("%H:%M"))
            }
            (LocalPoint::At(a), LocalPoint::At(b)) => format!(
                "{} {} – {} {}",
                day(a.date()),
                a.strftime("%H:%M"),
                day(b.date()),
                b.strftime("%H:%M")
            ),
            (a, b) => format!("{a} – {b}"),
        }
    }

    /// Whether this closure falls on (all or part of) the local `day`.
    pub fn touches_day(&self, day: Date) -> bool {
        let (from, to) = match (self.from, self.to) {
            (LocalPoint::Day(a), LocalPoint::Day(b)) => (a, b),
            (LocalPoint::At(a), LocalPoint::At(b)) => (a.date(), b.date()),
            _ => return false,
        };
        from <= day && day <= to
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    from: LocalPoint,
    to: LocalPoint,
    #[serde(default)]
    reason: String,
}

impl TryFrom<RawException> for Exception {
    type Error = String;
    fn try_from(r: RawException) -> Result<Self, String> {
        match (r.from, r.to) {
            (LocalPoint::Day(a), LocalPoint::Day(b)) if a > b => {
                Err(format!("exception from {a} to {b} ends before it starts"))
            }
            (LocalPoint::At(a), LocalPoint::At(b)) if a >= b => {
                Err(format!("exception from {a} to {b} ends before it starts"))
            }
            (LocalPoint::Day(_), LocalPoint::At(_)) | (LocalPoint::At(_), LocalPoint::Day(_)) => {
                Err("an exception's from and to must both be dates or both be date and time".into())
            }
            (from, to) => Ok(Exception {
                from,
                to,
                reason: r.reason,
            }),
        }
    }
}

/// A channel a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Voice,
    Portal,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Email, Channel::Sms, Channel::Voice, Channel::Portal];
    pub fn key(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Portal => "portal",
        }
    }
}

impl FromStr for Channel {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL.into_iter().find(|c| c.key() == s.trim()).ok_or_else(|| {
            DomainError::invalid(
                "channel",
                format!("{s:?} is not a channel; use email, sms, voice or portal"),
            )
        })
    }
}

/// Reachable for crisis only, e.g. DBT phone coaching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCall {
    pub days: Vec<Weekday>,
    pub hours: TimeRange,
    #[serde(default)]
    pub channels: Vec<Channel>,
}

/// Who the terms speak for, and which addresses are theirs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PractitionerTerms {
    #[serde(default)]
    pub name: String,
    /// Mail not addressed to these gets no automatic reply.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// How often one sender may receive an automatic reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OncePer {
    /// One reply per sender per closed spell.
    ClosedPeriod,
}

/// The automatic reply sent outside office hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoReply {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub once_per: Option<OncePer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_days: Option<u32>,
    /// The practitioner's own words, added to the composed reply.
    #[serde(default)]
    pub text: String,
    /// The practitioner's own words for former clients (e.g. where to turn now).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ending_text: String,
    /// The out-of-hours reply's wording, with placeholders; the default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The reply to a former client's message, with placeholders; the default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending_template: Option<String>,
    /// The reply to a message that may be a crisis, with placeholders; the default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crisis_template: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for AutoReply {
    fn default() -> Self {
        AutoReply {
            enabled: true,
            once_per: None,
            every_days: None,
            text: String::new(),
            ending_text: String::new(),
            template: None,
            ending_template: None,
            crisis_template: None,
        }
    }
}

/// Where to get help when the practitioner is not there.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crisis {
    #[serde(default)]
    pub resources: Vec<String>,
}

/// What each agreed channel is for; a channel left out is not agreed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<String>,
}

impl Channels {
    pub fn get(&self, c: Channel) -> Option<&String> {
        match c {
            Channel::Email => self.email.as_ref(),
            Channel::Sms => self.sms.as_ref(),
            Channel::Voice => self.voice.as_ref(),
            Channel::Portal => self.portal.as_ref(),
        }
    }
}

/// The parts of the terms only an agreement needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngagementTerms {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_every_sessions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_due_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_payment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub social_media: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gifts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_disclosure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending_notice_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceptions_say_when_in_words() {
        let e = |a: &str, b: &str| Exception {
            from: a.parse().unwrap(),
            to: b.parse().unwrap(),
            reason: String::new(),
        };
        assert_eq!(e("2026-12-24", "2026-12-28").when(), "Thu 24 Dec – Mon 28 Dec 2026");
        assert_eq!(e("2026-12-24", "2026-12-24").when(), "Thu 24 Dec 2026");
        assert_eq!(e("2026-12-31", "2027-01-01").when(), "Thu 31 Dec 2026 – Fri 1 Jan 2027");
        assert_eq!(
            e("2027-01-15T12:00", "2027-01-15T17:00").when(),
            "Fri 15 Jan 2027, 12:00–17:00"
        );
        assert_eq!(
            e("2027-01-15T12:00", "2027-01-16T09:00").when(),
            "Fri 15 Jan 2027 12:00 – Sat 16 Jan 2027 09:00"
        );
    }

    /// The example of DESIGN.md, verbatim.
    pub const DESIGN_EXAMPLE: &str = include_str!("../tests/design-terms.toml");

    #[test]
    fn design_example_parses() {
        let t = Terms::from_toml(DESIGN_EXAMPLE).unwrap();
        assert_eq!(t.timezone.name(), "Europe/London");
        assert_eq!(t.office_hours.mon.len(), 2);
        assert_eq!(t.office_hours.mon[1].to_string(), "13:30-17:00");
        assert_eq!(t.exceptions.len(), 2);
        assert!(matches!(t.exceptions[1].from, LocalPoint::At(_)));
        assert_eq!(t.on_call[0].channels, vec![Channel::Sms, Channel::Voice]);
        assert_eq!(t.auto_reply.once_per, Some(OncePer::ClosedPeriod));
        assert_eq!(t.engagement.sessions, Some(12));
        assert_eq!(t.engagement.ends_on, Some(jiff::civil::date(2027, 6, 30)));
    }

    #[test]
    fn toml_and_json_round_trip() {
        let t = Terms::from_toml(DESIGN_EXAMPLE).unwrap();
        assert_eq!(Terms::from_toml(&t.to_toml()).unwrap(), t);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(Terms::from_json(json).unwrap(), t);
    }

    #[test]
    fn only_timezone_and_office_hours_are_required() {
        let t = Terms::from_toml("timezone = \"UTC\"\n[office_hours]\n").unwrap();
        assert_eq!(t.response_time_hours, 24);
        assert!(t.auto_reply.enabled);
        let err = Terms::from_toml("[office_hours]\n").unwrap_err();
        assert!(err.to_string().contains("timezone"), "{err}");
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let text = "timezone = \"UTC\"\n[office_hours]\nmon = [\"09:00-17:00\"]\nmonday = []\n";
        let err = Terms::from_toml(text).unwrap_err().to_string();
        assert!(err.contains("monday"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn bad_values_are_explained() {
        let cases = [
            (
                "timezone = \"Mars/Olympus\"\n[office_hours]\n",
                "not a known IANA time zone",
            ),
            (
                "timezone = \"UTC\"\n[office_hours]\nmon = [\"17:00-09:00\"]\n",
                "ends before it starts",
            ),
            (
                "timezone = \"UTC\"\n[office_hours]\nmon = [\"9-5\"]\n",
                "write a range like",
            ),
            (
                "timezone = \"UTC\"\n[office_hours]\nmon = [\"09:00-12:00\", \"11:00-13:00\"]\n",
                "overlaps",
            ),
            (
                "timezone = \"UTC\"\n[office_hours]\n[[exceptions]]\nfrom = \"2026-12-28\"\nto = \"2026-12-24\"\n",
                "ends before it starts",
            ),
            (
                "timezone = \"UTC\"\n[office_hours]\n[auto_reply]\nonce_per = \"closed_period\"\nevery_days = 4\n",
                "not both",
            ),
        ];
        for (text, want) in cases {
            let err = Terms::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn ranges_parse_and_print() {
        let r: TimeRange = "9:00-24:00".parse().unwrap();
        assert_eq!((r.start, r.end), (540, 1440));
        assert_eq!(r.to_string(), "09:00-24:00");
        assert_eq!(r.end_time(), None);
        assert!("00:00-24:01".parse::<TimeRange>().is_err());
        assert!("24:00-24:00".parse::<TimeRange>().is_err());
        let day = OfficeHours::parse_day("13:30-17:00, 09:00-12:30").unwrap();
        assert_eq!(day[0].to_string(), "09:00-12:30");
    }
}
