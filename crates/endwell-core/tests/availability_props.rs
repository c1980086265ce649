//! Property tests of `availability.rs` against DESIGN.md's semantics
//! ("CLI contract for scripting"): random weekly schedules, exceptions and
//! zones with daylight-saving transitions, asked at random instants and at
//! instants within three hours of every transition in 2026–2028.
//!
//! Two oracles that do not use the compiled spells:
//! - `naive_open`: the local weekday's ranges contain the local time. Right
//!   only away from transitions and without exceptions.
//! - `oracle_open`: each day's ranges and each exception turned into instants
//!   with the RFC 5545 reading ("the offset in force before the change"),
//!   computed here from the zone's offsets alone, not from jiff's
//!   disambiguation; open iff inside some range and outside every exception.

use endwell_core::availability::{Availability, HORIZON, Spell};
use endwell_core::terms::Terms;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use proptest::prelude::*;
use proptest::test_runner::Config;

const ZONES: [&str; 6] = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Europe/Dublin",
    "Asia/Kolkata",
    "UTC",
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Minutes that touch midnight or fall in the small hours where clocks change.
const INTERESTING: [u16; 12] = [0, 0, 60, 90, 120, 150, 180, 1380, 1410, 1440, 1440, 1440];
const SEC: SignedDuration = SignedDuration::from_secs(1);
const STEP: SignedDuration = SignedDuration::from_mins(15);
const NEAR: SignedDuration = SignedDuration::from_hours(3);

fn start_2026() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}
fn end_2028() -> Timestamp {
    "2029-01-01T00:00:00Z".parse().unwrap()
}

#[derive(Debug, Clone)]
enum Exc {
    /// Whole local days from the local date of `at` plus `offset`, `len` more days inclusive.
    Days { offset: i32, len: i32 },
    /// Local date of `at` plus `offset` at `start` minutes, lasting `dur` minutes (local arithmetic).
    Timed { offset: i32, start: u16, dur: i64 },
}

#[derive(Debug, Clone)]
enum When {
    Uniform {
        secs: i64,
    },
    /// Transition `idx` (modulo the zone's count in 2026–2028) plus `offset` seconds.
    Near {
        idx: usize,
        offset: i64,
    },
}

#[derive(Debug, Clone)]
struct Case {
    zone: &'static str,
    week: [Vec<(u16, u16)>; 7],
    exceptions: Vec<Exc>,
    response_hours: u32,
    when: When,
}

/// A case resolved: the terms as TOML and parsed, the instant, the zone.
struct Setup {
    toml: String,
    terms: Terms,
    at: Timestamp,
    tz: TimeZone,
    week: [Vec<(u16, u16)>; 7],
    /// Closed intervals of the exceptions (already as instants, by the oracle's reading).
    closed: Vec<(Timestamp, Timestamp)>,
    response_hours: u32,
}

impl Setup {
    fn ctx(&self) -> String {
        format!("at = {}\n--- terms ---\n{}", self.at, self.toml)
    }
}

fn day_strategy() -> impl Strategy<Value = (Vec<u16>, bool, bool)> {
    let point = prop_oneof![3 => 0u16..=1440, 1 => prop::sample::select(&INTERESTING[..])];
    (0usize..=3)
        .prop_flat_map(move |k| prop::collection::vec(point.clone(), 2 * k))
        .prop_flat_map(|pts| (Just(pts), prop::bool::weighted(0.3), prop::bool::weighted(0.3)))
}

fn week_strategy() -> impl Strategy<Value = [Vec<(u16, u16)>; 7]> {
    let all_day = || vec![(0u16, 1440u16)];
    prop_oneof![
        18 => random_week_strategy(),
        // Never open; open around the clock; open around the clock but for one spell a week.
        1 => Just(Default::default()),
        1 => Just(std::array::from_fn(|_| all_day())),
        1 => (0usize..7, random_week_strategy()).prop_map(move |(gap, other)| {
            let mut week: [Vec<(u16, u16)>; 7] = std::array::from_fn(|_| all_day());
            week[gap] = other[gap].clone();
            week
        }),
    ]
}

fn random_week_strategy() -> impl Strategy<Value = [Vec<(u16, u16)>; 7]> {
    (
        prop::sample::select(vec![5u16, 15, 30]),
        prop::collection::vec(day_strategy(), 7),
    )
        .prop_map(|(g, days)| {
            let mut week: [Vec<(u16, u16)>; 7] = Default::default();
            for (i, (mut pts, at_zero, at_end)) in days.into_iter().enumerate() {
                for p in pts.iter_mut() {
                    *p = *p / g * g;
                }
                pts.sort();
                if !pts.is_empty() {
                    if at_zero {
                        pts[0] = 0;
                    }
                    if at_end {
                        *pts.last_mut().unwrap() = 1440;
                    }
                }
                week[i] = pts.chunks(2).filter(|c| c[0] < c[1]).map(|c| (c[0], c[1])).collect();
            }
            week
        })
}

fn exc_strategy() -> impl Strategy<Value = Exc> {
    let start = prop_oneof![2 => (0u16..1440).prop_map(|m| m / 15 * 15), 1 => prop::sample::select(&INTERESTING[..9])];
    prop_oneof![
        3 => (-3i32..=10, 0i32..=6).prop_map(|(offset, len)| Exc::Days { offset, len }),
        // Near the one-year horizon: closed from about a year ahead, or for about a year.
        1 => (360i32..=368, 0i32..=6).prop_map(|(offset, len)| Exc::Days { offset, len }),
        1 => (-3i32..=3, 360i32..=370).prop_map(|(offset, len)| Exc::Days { offset, len }),
        3 => (-3i32..=10, start, 1i64..=(3 * 24 * 4)).prop_map(|(offset, start, q)| Exc::Timed {
            offset,
            start,
            dur: q * 15
        }),
    ]
}

fn when_strategy() -> impl Strategy<Value = When> {
    let span = end_2028().duration_since(start_2026()).as_secs();
    prop_oneof![
        // Uniform, on a quarter hour (where spells start and end) or at any second.
        (0..span / 900).prop_map(|q| When::Uniform { secs: q * 900 }),
        (0..span).prop_map(|secs| When::Uniform { secs }),
        (any::<usize>(), -36i64..=36).prop_map(|(idx, q)| When::Near { idx, offset: q * 300 }),
        (any::<usize>(), -10800i64..=10800).prop_map(|(idx, offset)| When::Near { idx, offset }),
    ]
}

fn case_strategy(with_exceptions: bool) -> impl Strategy<Value = Case> {
    let exceptions = if with_exceptions {
        prop_oneof![Just(Vec::new()), prop::collection::vec(exc_strategy(), 1..=3)].boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (
        prop::sample::select(&ZONES[..]),
        week_strategy(),
        exceptions,
        0u32..=72,
        when_strategy(),
    )
        .prop_map(|(zone, week, exceptions, response_hours, when)| Case {
            zone,
            week,
            exceptions,
            response_hours,
            when,
        })
}

/// Transition instants of a zone between the given instants.
fn transitions(tz: &TimeZone, from: Timestamp, until: Timestamp) -> Vec<Timestamp> {
    tz.following(from)
        .map(|t| t.timestamp())
        .take_while(|t| *t < until)
        .collect()
}

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A local time read as RFC 5545 reads it, from the zone's offsets alone:
/// the offset in force before any change near it (valid while transitions are
/// more than a day apart, as in every zone here).
fn rfc5545(tz: &TimeZone, dt: DateTime) -> Timestamp {
    let naive = dt.to_zoned(TimeZone::UTC).unwrap().timestamp();
    let before = tz.to_offset(naive - SignedDuration::from_hours(30));
    let after = tz.to_offset(naive + SignedDuration::from_hours(30));
    let t1 = naive - SignedDuration::from_secs(i64::from(before.seconds()));
    let t2 = naive - SignedDuration::from_secs(i64::from(after.seconds()));
    let valid = |t: Timestamp, o: jiff::tz::Offset| tz.to_offset(t) == o;
    if valid(t1, before) || !valid(t2, after) { t1 } else { t2 }
}

fn local_minutes(day: Date, m: u16) -> DateTime {
    if m == 1440 {
        day.tomorrow().unwrap().to_datetime(Time::midnight())
    } else {
        day.to_datetime(Time::constant((m / 60) as i8, (m % 60) as i8, 0, 0))
    }
}

fn resolve(case: &Case) -> Setup {
    let tz = TimeZone::get(case.zone).unwrap();
    let at = match case.when {
        When::Uniform { secs } => start_2026() + SignedDuration::from_secs(secs),
        When::Near { idx, offset } => {
            let ts = transitions(&tz, start_2026(), end_2028());
            if ts.is_empty() {
                // No transitions (UTC, Kolkata): a local midnight instead, still a boundary.
                start_2026() + SignedDuration::from_hours(24 * (idx % 1000) as i64) + SignedDuration::from_secs(offset)
            } else {
                ts[idx % ts.len()] + SignedDuration::from_secs(offset)
            }
        }
    };
    let today = at.to_zoned(tz.clone()).date();
    let mut toml = format!(
        "timezone = \"{}\"\nresponse_time_hours = {}\n[office_hours]\n",
        case.zone, case.response_hours
    );
    for (i, day) in case.week.iter().enumerate() {
        let ranges: Vec<String> = day
            .iter()
            .map(|(a, b)| format!("\"{}-{}\"", hhmm(*a), hhmm(*b)))
            .collect();
        toml.push_str(&format!("{} = [{}]\n", DAYS[i], ranges.join(", ")));
    }
    let mut closed = Vec::new();
    for e in &case.exceptions {
        match *e {
            Exc::Days { offset, len } => {
                let from = today.checked_add(offset.days()).unwrap();
                let to = from.checked_add(len.days()).unwrap();
                toml.push_str(&format!("[[exceptions]]\nfrom = \"{from}\"\nto = \"{to}\"\n"));
                closed.push((
                    rfc5545(&tz, from.to_datetime(Time::midnight())),
                    rfc5545(&tz, to.tomorrow().unwrap().to_datetime(Time::midnight())),
                ));
            }
            Exc::Timed { offset, start, dur } => {
                let from = local_minutes(today.checked_add(offset.days()).unwrap(), start);
                let to = from.checked_add(dur.minutes()).unwrap();
                let f = from.strftime("%Y-%m-%dT%H:%M");
                let t = to.strftime("%Y-%m-%dT%H:%M");
                toml.push_str(&format!(
                    "[[exceptions]]\nfrom = \"{f}\"\nto = \"{t}\"\nreason = \"Training\"\n"
                ));
                closed.push((rfc5545(&tz, from), rfc5545(&tz, to)));
            }
        }
    }
    let terms = Terms::from_toml(&toml).unwrap_or_else(|e| panic!("generated terms do not parse: {e}\n{toml}"));
    Setup {
        toml,
        terms,
        at,
        tz,
        week: case.week.clone(),
        closed,
        response_hours: case.response_hours,
    }
}

/// The weekday index (mon = 0) of a civil date.
fn weekday(d: Date) -> usize {
    d.weekday().to_monday_zero_offset() as usize
}

/// Open at `t` by the direct reading: some day's range, as instants, holds `t`
/// and no exception does.
fn oracle_open(s: &Setup, t: Timestamp) -> bool {
    if s.closed.iter().any(|&(a, b)| a <= t && t < b) {
        return false;
    }
    let today = t.to_zoned(s.tz.clone()).date();
    (-2..=2).any(|k| {
        let day = today.checked_add(k.days()).unwrap();
        s.week[weekday(day)].iter().any(|&(a, b)| {
            let start = rfc5545(&s.tz, local_minutes(day, a));
            let end = rfc5545(&s.tz, local_minutes(day, b));
            start <= t && t < end
        })
    })
}

/// Open at `t` by the local clock alone: right away from transitions, without exceptions.
fn naive_open(s: &Setup, t: Timestamp) -> bool {
    let z = t.to_zoned(s.tz.clone());
    let secs = i32::from(z.hour()) * 3600 + i32::from(z.minute()) * 60 + i32::from(z.second());
    s.week[weekday(z.date())]
        .iter()
        .any(|&(a, b)| i32::from(a) * 60 <= secs && secs < i32::from(b) * 60)
}

/// Instants from `from` to before `until` every 15 minutes, and `until` - 1s.
fn samples(from: Timestamp, until: Timestamp) -> impl Iterator<Item = Timestamp> {
    let n = until.duration_since(from).as_secs() / STEP.as_secs();
    (0..=n)
        .map(move |i| from + STEP * i as i32)
        .filter(move |t| *t < until)
        .chain(std::iter::once(until - SEC))
}

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// open ⇒ no next_open; closed ⇒ no next_close; the single questions agree with `openness`.
    #[test]
    fn openness_is_consistent(case in case_strategy(true)) {
        let s = resolve(&case);
        let a = Availability::around(&s.terms, s.at);
        let o = a.openness(s.at);
        let ctx = s.ctx();
        prop_assert_eq!(o.open, a.is_open(s.at), "{}", ctx);
        prop_assert_eq!(o.next_open, a.next_open(s.at), "{}", ctx);
        prop_assert_eq!(o.next_close, a.next_close(s.at), "{}", ctx);
        prop_assert_eq!(o.open, a.spell_at(s.at).is_some(), "{}", ctx);
        if o.open {
            prop_assert_eq!(o.next_open, None, "{}", ctx);
            prop_assert_eq!(a.closed_since(s.at), None, "{}", ctx);
        } else {
            prop_assert_eq!(o.next_close, None, "{}", ctx);
            let since = a.closed_since(s.at);
            prop_assert!(since.is_some_and(|c| c <= s.at), "closed_since {:?}\n{}", since, ctx);
        }
    }

    /// Closed with a next_open: it is later, within a year, open there, and closed all the way to it.
    #[test]
    fn next_open_is_the_first_open_instant(case in case_strategy(true)) {
        let s = resolve(&case);
        let a = Availability::around(&s.terms, s.at);
        let o = a.openness(s.at);
        let ctx = s.ctx();
        if let (false, Some(t)) = (o.open, o.next_open) {
            prop_assert!(t > s.at && t <= s.at + HORIZON, "next_open {}\n{}", t, ctx);
            prop_assert!(a.is_open(t), "not open at next_open {}\n{}", t, ctx);
            prop_assert!(oracle_open(&s, t), "oracle: not open at next_open {}\n{}", t, ctx);
            prop_assert!(!oracle_open(&s, t - SEC), "oracle: open before next_open {}\n{}", t, ctx);
            for x in samples(s.at, t) {
                prop_assert!(!a.is_open(x), "open at {} before next_open {}\n{}", x, t, ctx);
            }
        }
    }

    /// Open with a next_close: it is later, within a year, closed there, and open all the way to it.
    #[test]
    fn next_close_is_the_end_of_the_merged_spell(case in case_strategy(true)) {
        let s = resolve(&case);
        let a = Availability::around(&s.terms, s.at);
        let o = a.openness(s.at);
        let ctx = s.ctx();
        match (o.open, o.next_close) {
            (true, Some(t)) => {
                prop_assert!(t > s.at && t <= s.at + HORIZON, "next_close {}\n{}", t, ctx);
                prop_assert!(!a.is_open(t), "open at next_close {}\n{}", t, ctx);
                prop_assert!(!oracle_open(&s, t), "oracle: open at next_close {} (touching spells not merged?)\n{}", t, ctx);
                prop_assert!(oracle_open(&s, t - SEC), "oracle: closed before next_close {}\n{}", t, ctx);
                for x in samples(s.at, t) {
                    prop_assert!(a.is_open(x), "closed at {} before next_close {}\n{}", x, t, ctx);
                }
            }
            (true, None) => {
                let spell = a.spell_at(s.at).unwrap();
                prop_assert!(spell.end > s.at + HORIZON, "no next_close but spell {:?} ends within a year\n{}", spell, ctx);
            }
            _ => {}
        }
    }

    /// Closed and never open within a year: no spell starts in (at, at + 366 days].
    #[test]
    fn no_next_open_means_closed_for_a_year(case in case_strategy(true)) {
        let s = resolve(&case);
        let a = Availability::around(&s.terms, s.at);
        let o = a.openness(s.at);
        if !o.open && o.next_open.is_none() {
            let horizon = s.at + HORIZON;
            let early = a.open_spells().iter().find(|sp| sp.start > s.at && sp.start <= horizon);
            prop_assert!(early.is_none(), "spell {:?} within a year\n{}", early, s.ctx());
        }
    }

    /// A compilation around another instant, or for another window, that covers `at` answers the same.
    #[test]
    fn answers_do_not_depend_on_the_compiled_window(
        case in case_strategy(true),
        shift in -60i64 * 86400..=8 * 86400,
        before in prop_oneof![Just(0i64), 0i64..20 * 86400],
        after in prop_oneof![Just(1i64), 1i64..20 * 86400],
    ) {
        let s = resolve(&case);
        let ctx = s.ctx();
        let a = Availability::around(&s.terms, s.at);
        let b = Availability::around(&s.terms, s.at + SignedDuration::from_secs(shift));
        let c = Availability::compile(
            &s.terms,
            s.at - HORIZON - SignedDuration::from_secs(before),
            s.at + HORIZON + SignedDuration::from_secs(after),
        );
        for (name, other) in [("around(at + shift)", &b), ("compile", &c)] {
            prop_assert!(other.covers(s.at), "{} does not cover at\n{}", name, ctx);
            prop_assert_eq!(a.openness(s.at), other.openness(s.at), "{}\n{}", name, ctx);
            // reply_by may answer past the horizon (see `reply_by_stays_within_the_horizon`),
            // where only `a`'s larger window still has the spells; compare within it.
            let r = a.reply_by(s.at);
            if r.is_none_or(|r| r <= s.at + HORIZON) {
                prop_assert_eq!(r, other.reply_by(s.at), "reply_by, {}\n{}", name, ctx);
            }
            let (x, y) = (a.closed_since(s.at), other.closed_since(s.at));
            // A closed spell older than the horizon begins at a window's start, which differs.
            if x.is_some_and(|t| t > s.at - HORIZON) || y.is_some_and(|t| t > s.at - HORIZON) {
                prop_assert_eq!(x, y, "closed_since, {}\n{}", name, ctx);
            }
        }
    }

    /// Open spells are non-empty, sorted, and neither overlap nor touch; each
    /// begins and ends where the direct reading changes.
    #[test]
    fn open_spells_are_sorted_and_merged(case in case_strategy(true)) {
        let s = resolve(&case);
        let a = Availability::around(&s.terms, s.at);
        let spells = a.open_spells();
        let ctx = s.ctx();
        for sp in spells {
            prop_assert!(sp.start < sp.end, "empty spell {:?}\n{}", sp, ctx);
        }
        for w in spells.windows(2) {
            prop_assert!(w[0].end < w[1].start, "{:?} and {:?} overlap or touch\n{}", w[0], w[1], ctx);
        }
        // The spells around `at`, checked against the oracle at their edges.
        let i = spells.partition_point(|sp| sp.end <= s.at);
        for sp in &spells[i.saturating_sub(2)..(i + 3).min(spells.len())] {
            let Spell { start, end } = *sp;
            prop_assert!(oracle_open(&s, start) && oracle_open(&s, end - SEC), "{:?}\n{}", sp, ctx);
            // Edges at the compiled window's ends are cut there, not where the hours change.
            if start > s.at - HORIZON {
                prop_assert!(!oracle_open(&s, start - SEC), "{:?} not maximal\n{}", sp, ctx);
            }
            if end < s.at + HORIZON {
                prop_assert!(!oracle_open(&s, end), "{:?} not maximal\n{}", sp, ctx);
            }
        }
    }

    /// reply_by: exactly response_time_hours of open time lie within [at, reply_by].
    #[test]
    fn reply_by_counts_response_time_in_open_hours(case in case_strategy(true)) {
        let s = resolve(&case);
        let a = Availability::around(&s.terms, s.at);
        let ctx = s.ctx();
        let want = SignedDuration::from_hours(i64::from(s.response_hours));
        let open_within = |from: Timestamp, to: Timestamp| {
            a.open_spells()
                .iter()
                .map(|sp| {
                    let (x, y) = (sp.start.max(from), sp.end.min(to));
                    if y > x { y.duration_since(x) } else { SignedDuration::ZERO }
                })
                .sum::<SignedDuration>()
        };
        match a.reply_by(s.at) {
            Some(r) => {
                prop_assert!(r >= s.at, "reply_by {} before at\n{}", r, ctx);
                prop_assert_eq!(open_within(s.at, r), want, "reply_by {}\n{}", r, ctx);
                if s.response_hours == 0 {
                    let o = a.openness(s.at);
                    prop_assert_eq!(Some(r), if o.open { Some(s.at) } else { o.next_open }, "{}", ctx);
                } else {
                    // The earliest such instant: open just before it.
                    prop_assert!(a.is_open(r - SEC), "reply_by {} is not the earliest\n{}", r, ctx);
                }
            }
            None => {
                // Not enough open time between `at` and the horizon.
                let total = open_within(s.at, s.at + HORIZON);
                prop_assert!(total < want || (want.is_zero() && total.is_zero()), "total {:?}\n{}", total, ctx);
            }
        }
    }

    /// is_open agrees with the direct reading of ranges and exceptions, at every instant.
    #[test]
    fn is_open_matches_the_direct_reading(case in case_strategy(true)) {
        let s = resolve(&case);
        let a = Availability::around(&s.terms, s.at);
        prop_assert_eq!(a.is_open(s.at), oracle_open(&s, s.at), "{}", s.ctx());
    }

    /// Away from transitions and without exceptions, is_open agrees with the local clock.
    #[test]
    fn is_open_matches_the_local_clock_away_from_transitions(case in case_strategy(false)) {
        let s = resolve(&case);
        let near = transitions(&s.tz, start_2026() - NEAR * 10, end_2028() + NEAR * 10)
            .into_iter()
            .any(|t| t.duration_since(s.at).abs() < NEAR);
        prop_assume!(!near);
        let a = Availability::around(&s.terms, s.at);
        prop_assert_eq!(a.is_open(s.at), naive_open(&s, s.at), "{}", s.ctx());
    }
}

/// The oracle's RFC 5545 reading agrees with DESIGN.md's examples (and so
/// can be trusted as an oracle): gaps and folds read with the offset before.
#[test]
fn oracle_reading_of_gaps_and_folds() {
    let london = TimeZone::get("Europe/London").unwrap();
    let at = |s: &str| s.parse::<DateTime>().unwrap();
    let ts = |s: &str| s.parse::<Timestamp>().unwrap();
    assert_eq!(rfc5545(&london, at("2026-03-29T01:30")), ts("2026-03-29T01:30:00Z"));
    assert_eq!(rfc5545(&london, at("2026-03-29T02:00")), ts("2026-03-29T01:00:00Z"));
    assert_eq!(rfc5545(&london, at("2026-10-25T01:30")), ts("2026-10-25T00:30:00Z"));
    assert_eq!(rfc5545(&london, at("2026-10-25T02:30")), ts("2026-10-25T02:30:00Z"));
    assert_eq!(rfc5545(&london, at("2026-10-25T00:30")), ts("2026-10-24T23:30:00Z"));
    let howe = TimeZone::get("Australia/Lord_Howe").unwrap();
    assert_eq!(rfc5545(&howe, at("2026-04-05T01:00")), ts("2026-04-04T14:00:00Z"));
    assert_eq!(rfc5545(&howe, at("2026-04-05T02:00")), ts("2026-04-04T15:30:00Z"));
    for zone in ZONES {
        let tz = TimeZone::get(zone).unwrap();
        let mut dt = at("2026-01-01T00:00");
        while dt < at("2029-01-01T00:00") {
            let want = tz.to_ambiguous_timestamp(dt).compatible().unwrap();
            assert_eq!(rfc5545(&tz, dt), want, "{zone} {dt}");
            dt = dt.checked_add(15.minutes()).unwrap();
        }
    }
}

/// Every zone with daylight saving has transitions to test near.
#[test]
fn zones_have_transitions() {
    for zone in ZONES {
        let n = transitions(&TimeZone::get(zone).unwrap(), start_2026(), end_2028()).len();
        let want = if matches!(zone, "UTC" | "Asia/Kolkata") { 0 } else { 6 };
        assert_eq!(n, want, "{zone}");
    }
}

fn always_open(extra: &str) -> Terms {
    let all = "[\"00:00-24:00\"]";
    Terms::from_toml(&format!(
        "timezone = \"UTC\"\n{extra}\n[office_hours]\nmon={all}\ntue={all}\nwed={all}\nthu={all}\nfri={all}\nsat={all}\nsun={all}\n"
    ))
    .unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Was a bug: `reply_by` counts the whole of a spell that begins within the
/// horizon, so it can answer after `at + HORIZON`, although its documentation
/// says `None` "when the open hours within the horizon are not enough"; and a
/// compilation that `covers(at)` then answers differently from `around(at)`.
#[test]
fn reply_by_stays_within_the_horizon() {
    // Closed all of 2026 (365 days), open from 2027-01-01; 48 open hours needed.
    let mut t = always_open("response_time_hours = 48");
    t.exceptions = Terms::from_toml(
        "timezone = \"UTC\"\n[office_hours]\n[[exceptions]]\nfrom = \"2026-01-01\"\nto = \"2026-12-31\"\n",
    )
    .unwrap()
    .exceptions;
    let at = ts("2026-01-01T00:00:00Z");
    let a = Availability::around(&t, at);
    // Only 24 open hours lie within the horizon (2027-01-01T00:00Z to 2027-01-02T00:00Z).
    // Got: Some(2027-01-03T00:00:00Z).
    assert_eq!(a.reply_by(at), None);
    let c = Availability::compile(&t, at - HORIZON, at + HORIZON + SEC);
    assert!(c.covers(at));
    assert_eq!(a.reply_by(at), c.reply_by(at));
}

/// A window ending exactly at `at + HORIZON` would cut a spell that ends or
/// begins exactly there, so it must not claim to cover `at`; one second more
/// and it does, with the same answers as `around(at)`.
#[test]
fn covers_means_the_same_answers_at_the_horizon_edge() {
    let at = ts("2026-01-01T00:00:00Z"); // at + 366 days = 2027-01-02T00:00Z, a Saturday
    // Open around the clock, closed on 2027-01-02: next_close is exactly at + HORIZON.
    let mut t = always_open("");
    t.exceptions = Terms::from_toml(
        "timezone = \"UTC\"\n[office_hours]\n[[exceptions]]\nfrom = \"2027-01-02\"\nto = \"2027-01-02\"\n",
    )
    .unwrap()
    .exceptions;
    let a = Availability::around(&t, at);
    assert!(!Availability::compile(&t, at - HORIZON, at + HORIZON).covers(at));
    let c = Availability::compile(&t, at - HORIZON, at + HORIZON + SEC);
    assert!(c.covers(at));
    assert_eq!(a.next_close(at), Some(ts("2027-01-02T00:00:00Z")));
    assert_eq!(c.next_close(at), a.next_close(at)); // got None
    // Open Saturdays 00:00-01:00, closed to 2027-01-01: next_open is exactly at + HORIZON.
    let t = Terms::from_toml(
        "timezone = \"UTC\"\n[office_hours]\nsat = [\"00:00-01:00\"]\n[[exceptions]]\nfrom = \"2026-01-01\"\nto = \"2027-01-01\"\n",
    )
    .unwrap();
    let a = Availability::around(&t, at);
    assert!(!Availability::compile(&t, at - HORIZON, at + HORIZON).covers(at));
    let c = Availability::compile(&t, at - HORIZON, at + HORIZON + SEC);
    assert!(c.covers(at));
    assert_eq!(a.next_open(at), Some(ts("2027-01-02T00:00:00Z")));
    assert_eq!(c.next_open(at), a.next_open(at)); // got None
}
