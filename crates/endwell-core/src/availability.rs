//! When a practitioner is reachable: office hours, exceptions and on-call
//! windows turned into instants, and the questions asked of them.
//!
//! Terms speak in local wall-clock times; decisions need instants. An
//! [`Availability`] is compiled once per agreement for a window of time (all
//! open spells and on-call spells as sorted, merged UTC intervals), so each
//! question afterwards is a binary search with no allocation.
//!
//! Semantics (DESIGN.md's CLI contract):
//! - A local time that does not exist (clocks go forward) or occurs twice
//!   (clocks go back) is read as RFC 5545 reads it: with the offset in force
//!   before the change (jiff's "compatible" disambiguation). A range whose
//!   start and end fold onto each other that way is empty that day.
//! - Exceptions close: whole local days (`to` inclusive) or a spell between
//!   two local times. They close on-call windows too: someone on leave is not
//!   on call.
//! - Touching ranges, also across midnight, form one open spell.
//! - The horizon is one year: `next_open` is null when there is no open
//!   spell within a year, and an open spell that does not end within a year
//!   has no `next_close`.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::terms::{Channel, LocalPoint, Terms, TimeRange, Weekday};

/// How far ahead (and back) questions are answered.
pub const HORIZON: SignedDuration = SignedDuration::from_hours(366 * 24);

/// A half-open interval of time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Spell {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// An on-call spell: reachable for crisis only, on these channels (all when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCallSpell {
    pub spell: Spell,
    pub channels: Vec<Channel>,
}

/// The answer to "is the practitioner open at this instant?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Openness {
    pub open: bool,
    /// Start of the next open spell when closed; `None` when open or never open within the horizon.
    pub next_open: Option<Timestamp>,
    /// End of the current spell when open; `None` when closed or open past the horizon.
    pub next_close: Option<Timestamp>,
}

/// Open and on-call spells of one set of terms over a window of time.
#[derive(Debug, Clone)]
pub struct Availability {
    tz: TimeZone,
    window: Spell,
    open: Vec<Spell>,
    on_call: Vec<OnCallSpell>,
    response_time: SignedDuration,
}

impl Availability {
    /// Compile the spells needed to answer any question about `at`:
    /// from a year before it (for "when did this closed spell begin?") to
    /// a year after it.
    pub fn around(terms: &Terms, at: Timestamp) -> Availability {
        Self::compile(
            terms,
            at - HORIZON - SignedDuration::from_hours(24 * 8),
            at + HORIZON * 2,
        )
    }

    /// Compile the spells that intersect `[from, until)`, clipped to it.
    /// A server compiles once per agreement for a long window and recompiles
    /// when [`Availability::covers`] says an instant is outside it.
    pub fn compile(terms: &Terms, from: Timestamp, until: Timestamp) -> Availability {
        let tz = terms.timezone.tz().clone();
        let window = Spell {
            start: from,
            end: until.max(from),
        };
        // Local days that can touch the window: one day of slack each side
        // covers every UTC offset (all are within ±26 hours).
        let first = from.to_zoned(tz.clone()).date().yesterday().unwrap_or(Date::MIN);
        let last = until.to_zoned(tz.clone()).date().tomorrow().unwrap_or(Date::MAX);

        let closed = closed_spells(terms, &tz);
        let mut open = Vec::new();
        let mut on_call = Vec::new();
        let mut day = first;
        while day <= last {
            let weekday = Weekday::of(day);
            for range in terms.office_hours.day(weekday) {
                if let Some(s) = local_range(&tz, day, range) {
                    open.push(s);
                }
            }
            for oc in &terms.on_call {
                if oc.days.contains(&weekday)
                    && let Some(s) = local_range(&tz, day, &oc.hours)
                {
                    for piece in subtract(&[s], &closed) {
                        on_call.push(OnCallSpell {
                            spell: piece,
                            channels: oc.channels.clone(),
                        });
                    }
                }
            }
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        let open = clip(merge(subtract(&merge(open), &closed)), window);
        on_call.retain(|o| o.spell.end > window.start && o.spell.start < window.end);
        on_call.sort_by_key(|o| o.spell);
        Availability {
            tz,
            window,
            open,
            on_call,
            response_time: SignedDuration::from_hours(i64::from(terms.response_time_hours)),
        }
    }

    /// Whether questions about `at` can be answered from this compilation
    /// (the year before it and the year after it are inside the window).
    pub fn covers(&self, at: Timestamp) -> bool {
        at - HORIZON >= self.window.start && at + HORIZON < self.window.end
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Open spells in the window, sorted and merged.
    pub fn open_spells(&self) -> &[Spell] {
        &self.open
    }

    /// On-call spells in the window, sorted.
    pub fn on_call_spells(&self) -> &[OnCallSpell] {
        &self.on_call
    }

    /// Index of the first open spell ending after `at`.
    fn first_ending_after(&self, at: Timestamp) -> usize {
        self.open.partition_point(|s| s.end <= at)
    }

    /// The open spell containing `at`, if any.
    pub fn spell_at(&self, at: Timestamp) -> Option<Spell> {
        self.open
            .get(self.first_ending_after(at))
            .copied()
            .filter(|s| s.start <= at)
    }

    pub fn is_open(&self, at: Timestamp) -> bool {
        self.spell_at(at).is_some()
    }

    /// Open now? and when does that change (within the one-year horizon)?
    pub fn openness(&self, at: Timestamp) -> Openness {
        let horizon = at + HORIZON;
        match self.open.get(self.first_ending_after(at)) {
            Some(s) if s.start <= at => Openness {
                open: true,
                next_open: None,
                next_close: (s.end <= horizon && s.end < self.window.end).then_some(s.end),
            },
            Some(s) => Openness {
                open: false,
                next_open: (s.start <= horizon).then_some(s.start),
                next_close: None,
            },
            None => Openness {
                open: false,
                next_open: None,
                next_close: None,
            },
        }
    }

    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        self.openness(at).next_open
    }

    pub fn next_close(&self, at: Timestamp) -> Option<Timestamp> {
        self.openness(at).next_close
    }

    /// When the closed spell containing `at` began (the end of the previous
    /// open spell, or the window's start if there is none in it).
    /// `None` when open at `at`.
    pub fn closed_since(&self, at: Timestamp) -> Option<Timestamp> {
        let i = self.first_ending_after(at);
        if self.open.get(i).is_some_and(|s| s.start <= at) {
            return None;
        }
        Some(if i == 0 {
            self.window.start
        } else {
            self.open[i - 1].end
        })
    }

    /// "You will hear back by": the instant at which the response time,
    /// counted in open hours only, has passed since a message received at
    /// `at`. `None` when the open hours within the horizon are not enough.
    pub fn reply_by(&self, at: Timestamp) -> Option<Timestamp> {
        let horizon = at + HORIZON;
        let mut left = self.response_time;
        for s in &self.open[self.first_ending_after(at)..] {
            let start = s.start.max(at);
            if start > horizon {
                return None;
            }
            let here = s.end.duration_since(start);
            if here >= left {
                let by = start + left;
                return (by <= horizon).then_some(by);
            }
            left -= here;
        }
        None
    }

    /// The on-call spell containing `at` that covers `channel`, if any.
    pub fn on_call_at(&self, at: Timestamp, channel: Channel) -> Option<&OnCallSpell> {
        let i = self.on_call.partition_point(|o| o.spell.start <= at);
        self.on_call[..i]
            .iter()
            .rev()
            .take(4)
            .find(|o| o.spell.end > at && (o.channels.is_empty() || o.channels.contains(&channel)))
    }

    /// Format an instant as the practitioner's local day and time, for people:
    /// "Tuesday 24 November 2026 at 09:00 (Europe/London time)".
    pub fn describe(&self, at: Timestamp, zone_name: &str) -> String {
        let z = at.to_zoned(self.tz.clone());
        format!(
            "{} at {} ({zone_name} time)",
            z.strftime("%A %-d %B %Y"),
            z.strftime("%H:%M")
        )
    }
}

/// A local wall-clock time read as RFC 5545 reads it.
pub fn local_instant(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

/// One day's range as an instant interval; `None` when it folds to nothing.
fn local_range(tz: &TimeZone, day: Date, range: &TimeRange) -> Option<Spell> {
    let start = local_instant(tz, day.to_datetime(range.start_time()))?;
    let end = match range.end_time() {
        Some(t) => local_instant(tz, day.to_datetime(t))?,
        None => local_instant(tz, day.tomorrow().ok()?.to_datetime(jiff::civil::Time::midnight()))?,
    };
    (end > start).then_some(Spell { start, end })
}

/// The terms' exceptions as closed instant intervals, sorted and merged.
fn closed_spells(terms: &Terms, tz: &TimeZone) -> Vec<Spell> {
    let mut closed: Vec<Spell> = terms
        .exceptions
        .iter()
        .filter_map(|e| {
            let (start, end) = match (e.from, e.to) {
                (LocalPoint::Day(a), LocalPoint::Day(b)) => (
                    local_instant(tz, a.to_datetime(jiff::civil::Time::midnight()))?,
                    local_instant(
                        tz,
                        b.checked_add(1.day()).ok()?.to_datetime(jiff::civil::Time::midnight()),
                    )?,
                ),
                (LocalPoint::At(a), LocalPoint::At(b)) => (local_instant(tz, a)?, local_instant(tz, b)?),
                _ => return None,
            };
            (end > start).then_some(Spell { start, end })
        })
        .collect();
    closed.sort();
    merge(closed)
}

/// Sort and join overlapping or touching spells.
fn merge(mut spells: Vec<Spell>) -> Vec<Spell> {
    spells.sort();
    let mut out: Vec<Spell> = Vec::with_capacity(spells.len());
    for s in spells {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// `spells` minus `closed` (both sorted and merged).
fn subtract(spells: &[Spell], closed: &[Spell]) -> Vec<Spell> {
    let mut out = Vec::with_capacity(spells.len());
    for s in spells {
        let mut start = s.start;
        let from = closed.partition_point(|c| c.end <= s.start);
        for c in &closed[from..] {
            if c.start >= s.end {
                break;
            }
            if c.start > start {
                out.push(Spell { start, end: c.start });
            }
            start = start.max(c.end);
        }
        if start < s.end {
            out.push(Spell { start, end: s.end });
        }
    }
    out
}

fn clip(spells: Vec<Spell>, window: Spell) -> Vec<Spell> {
    spells
        .into_iter()
        .filter_map(|s| {
            let start = s.start.max(window.start);
            let end = s.end.min(window.end);
            (end > start).then_some(Spell { start, end })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn design() -> Terms {
        Terms::from_toml(include_str!("../tests/design-terms.toml")).unwrap()
    }

    fn terms(extra: &str) -> Terms {
        Terms::from_toml(&format!("timezone = \"Europe/London\"\n{extra}")).unwrap()
    }

    #[test]
    fn open_in_office_hours_and_closed_at_lunch() {
        let t = design();
        // Monday 30 November 2026, GMT.
        let at = ts("2026-11-30T10:00:00Z");
        let a = Availability::around(&t, at);
        assert_eq!(
            a.openness(at),
            Openness {
                open: true,
                next_open: None,
                next_close: Some(ts("2026-11-30T12:30:00Z"))
            }
        );
        let lunch = ts("2026-11-30T13:00:00Z");
        assert_eq!(a.next_open(lunch), Some(ts("2026-11-30T13:30:00Z")));
        assert!(!a.is_open(lunch));
        // Friday after 15:00 → Monday 09:00.
        assert_eq!(
            a.next_open(ts("2026-12-04T15:00:00Z")),
            Some(ts("2026-12-07T09:00:00Z"))
        );
    }

    #[test]
    fn whole_day_exceptions_close_through_the_last_day() {
        let t = design();
        let at = ts("2026-12-23T16:00:00Z"); // Wednesday before the holiday
        let a = Availability::around(&t, at);
        assert_eq!(a.next_close(at), Some(ts("2026-12-23T17:00:00Z")));
        // Closed 24th to 28th inclusive; 29th is a Tuesday.
        assert_eq!(
            a.next_open(ts("2026-12-23T18:00:00Z")),
            Some(ts("2026-12-29T09:00:00Z"))
        );
        assert_eq!(
            a.closed_since(ts("2026-12-26T12:00:00Z")),
            Some(ts("2026-12-23T17:00:00Z"))
        );
    }

    #[test]
    fn timed_exceptions_cut_a_day() {
        let t = design();
        let at = ts("2027-01-15T11:00:00Z"); // Friday, open 09:00-15:00, training from 12:00
        let a = Availability::around(&t, at);
        assert_eq!(a.next_close(at), Some(ts("2027-01-15T12:00:00Z")));
        assert_eq!(
            a.next_open(ts("2027-01-15T12:00:00Z")),
            Some(ts("2027-01-18T09:00:00Z"))
        );
    }

    #[test]
    fn touching_ranges_across_midnight_are_one_spell() {
        let t = terms("[office_hours]\nmon = [\"20:00-24:00\"]\ntue = [\"00:00-02:00\", \"02:00-03:00\"]\n");
        let at = ts("2026-11-30T21:00:00Z");
        let a = Availability::around(&t, at);
        assert_eq!(a.next_close(at), Some(ts("2026-12-01T03:00:00Z")));
        assert_eq!(
            a.open_spells()
                .iter()
                .filter(|s| s.start.to_string().starts_with("2026-11-30"))
                .count(),
            1
        );
    }

    #[test]
    fn spring_forward_gap_reads_with_the_offset_before() {
        // London, Sunday 29 March 2026: 01:00 GMT → 02:00 BST. 01:30 does not exist.
        let t = terms("[office_hours]\nsun = [\"01:30-03:00\"]\n");
        let at = ts("2026-03-28T12:00:00Z");
        let a = Availability::around(&t, at);
        // 01:30 with the offset before the change (GMT) is 01:30Z = 02:30 BST.
        assert_eq!(a.next_open(at), Some(ts("2026-03-29T01:30:00Z")));
        assert_eq!(
            a.next_close(ts("2026-03-29T01:45:00Z")),
            Some(ts("2026-03-29T02:00:00Z"))
        );
    }

    #[test]
    fn fall_back_fold_reads_the_first_occurrence() {
        // London, Sunday 25 October 2026: 02:00 BST → 01:00 GMT. 01:30 happens twice.
        let t = terms("[office_hours]\nsun = [\"01:30-02:30\"]\n");
        let at = ts("2026-10-24T12:00:00Z");
        let a = Availability::around(&t, at);
        // 01:30 BST = 00:30Z; 02:30 GMT = 02:30Z.
        assert_eq!(a.next_open(at), Some(ts("2026-10-25T00:30:00Z")));
        assert_eq!(
            a.next_close(ts("2026-10-25T01:00:00Z")),
            Some(ts("2026-10-25T02:30:00Z"))
        );
    }

    #[test]
    fn never_open_has_no_next_open() {
        let t = terms("[office_hours]\n");
        let at = ts("2026-11-30T10:00:00Z");
        let a = Availability::around(&t, at);
        assert_eq!(
            a.openness(at),
            Openness {
                open: false,
                next_open: None,
                next_close: None
            }
        );
        assert_eq!(a.reply_by(at), None);
    }

    #[test]
    fn always_open_has_no_next_close_within_a_year() {
        let all = "[\"00:00-24:00\"]";
        let t = terms(&format!(
            "[office_hours]\nmon={all}\ntue={all}\nwed={all}\nthu={all}\nfri={all}\nsat={all}\nsun={all}\n"
        ));
        let at = ts("2026-11-30T10:00:00Z");
        let a = Availability::around(&t, at);
        assert_eq!(
            a.openness(at),
            Openness {
                open: true,
                next_open: None,
                next_close: None
            }
        );
    }

    #[test]
    fn reply_by_counts_open_hours_only() {
        let mut t = design();
        t.response_time_hours = 24;
        // Friday 4 Dec 2026 16:00 (closed after 15:00). Open hours from Monday:
        // Mon 7h (09:00-12:30, 13:30-17:00), Tue 8h, Wed 8h → 23h by Wed 17:00, 1 more on Thu.
        let at = ts("2026-12-04T16:00:00Z");
        let a = Availability::around(&t, at);
        assert_eq!(a.reply_by(at), Some(ts("2026-12-10T10:00:00Z")));
        t.response_time_hours = 0;
        let a = Availability::around(&t, at);
        assert_eq!(a.reply_by(at), Some(ts("2026-12-07T09:00:00Z")));
    }

    #[test]
    fn on_call_is_for_listed_channels_and_closed_by_exceptions() {
        let t = design();
        let sat = ts("2026-12-05T11:00:00Z");
        let a = Availability::around(&t, sat);
        assert!(a.on_call_at(sat, Channel::Sms).is_some());
        assert!(a.on_call_at(sat, Channel::Email).is_none());
        assert!(!a.is_open(sat));
        // Saturday 26 December is inside the holiday exception.
        let holiday = ts("2026-12-26T11:00:00Z");
        let a = Availability::around(&t, holiday);
        assert!(a.on_call_at(holiday, Channel::Sms).is_none());
    }

    #[test]
    fn lord_howe_half_hour_shift() {
        // Lord Howe: +11 in summer, +10:30 in winter; back on Sunday 5 April 2026 at 02:00 → 01:30.
        let t =
            Terms::from_toml("timezone = \"Australia/Lord_Howe\"\n[office_hours]\nsun = [\"01:00-02:00\"]\n").unwrap();
        let at = ts("2026-04-04T00:00:00Z");
        let a = Availability::around(&t, at);
        let open = a.next_open(at).unwrap();
        // 01:00 local read with the offset before the change (+11) = 14:00Z on the 4th.
        assert_eq!(open, ts("2026-04-04T14:00:00Z"));
        // 02:00 local first occurs at 15:00Z (+11)... 02:00 exists only once (+10:30) = 15:30Z.
        assert_eq!(a.next_close(open), Some(ts("2026-04-04T15:30:00Z")));
    }
}
