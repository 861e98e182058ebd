//! Who is on call when: the shifts of a rotation, as pure functions of the rotation, its
//! overrides and a window. Hand-offs happen at a local wall-clock time in the rotation's IANA
//! time zone (jiff, with the time zone database built into the binary so every node computes
//! the same shifts): a shift over a daylight-saving change lasts 23 or 25 hours, never leaves a
//! gap or an overlap. A local time that falls in a gap is read with the offset in force before
//! it (02:15 in a 02:00→02:30 gap is 02:45), one that occurs twice is the earlier (RFC 5545 and
//! jiff's `compatible`).
//!
//! Hand-offs come in periods (a day, a Monday-based week or a month), of which every
//! `multiplier`-th one, counted from the period holding the start, has hand-offs. Shift 0 runs
//! from the start to the first hand-off after it; shift `s` is held by `on_calls` members from
//! position `s * on_calls` of the member list, wrapping around. Counting shifts is arithmetic,
//! so the cost of a window does not grow with the rotation's age.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use std::collections::BTreeMap;

/// Minutes after local midnight.
pub type LocalTime = u16;

pub fn local_time(hour: i32, minute: i32) -> LocalTime {
    (hour.clamp(0, 23) * 60 + minute.clamp(0, 59)) as LocalTime
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    Daily(Vec<LocalTime>),
    /// (weekday, 0 = Monday, hand-off time)
    Weekly(Vec<(u8, LocalTime)>),
    /// (day of month 1..=31, hand-off time); days beyond a month's end fall on its last day.
    Monthly(Vec<(u8, LocalTime)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recurrence {
    pub on_calls: usize,
    pub multiplier: u32,
    pub pattern: Pattern,
    /// Weekday (0 = Monday) → local windows in which someone is on call; empty = always.
    /// A window whose end is not after its start runs past midnight.
    pub coverage: BTreeMap<u8, Vec<(LocalTime, LocalTime)>>,
}

#[derive(Debug, Clone)]
pub struct Rotation {
    pub members: Vec<String>,
    pub start_ms: i64,
    pub tz: TimeZone,
    pub recurrence: Recurrence,
}

/// Later overrides win where overrides overlap.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub start_ms: i64,
    pub end_ms: i64,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    pub start_ms: i64,
    pub end_ms: i64,
    pub members: Vec<String>,
    /// Set when an override replaced the regular members (who are listed here).
    pub overridden: Option<Vec<String>>,
}

/// An IANA time zone, or None. Bare designators such as `PST` or `EST` (no DST rules, or not
/// a place) are refused, as AWS does; `UTC` is accepted.
pub fn time_zone(id: &str) -> Option<TimeZone> {
    let named = id.contains('/') || id == "UTC" || id == "GMT";
    if !named {
        return None;
    }
    TimeZone::get(id).ok()
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn day_number(d: Date) -> i64 {
    let (y, m, day) = (d.year() as i64, d.month() as i64, d.day() as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn date_of(n: i64) -> Date {
    let z = n + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    Date::new(y as i16, m as i8, d as i8).unwrap_or(Date::MAX)
}

/// 0 = Monday.
fn weekday(n: i64) -> i64 {
    (n + 3).rem_euclid(7)
}

fn month_len(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The instant of a local date and time (compatible disambiguation).
fn instant(tz: &TimeZone, day: i64, minutes: i64) -> i64 {
    let day = day + minutes.div_euclid(1440);
    let minutes = minutes.rem_euclid(1440);
    let dt: DateTime = date_of(day).at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
    match tz.to_ambiguous_timestamp(dt).compatible() {
        Ok(t) => t.as_millisecond(),
        Err(_) => (day * 1440 + minutes) * 60_000,
    }
}

/// The local day number of an instant.
fn local_day(tz: &TimeZone, ms: i64) -> i64 {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => day_number(tz.to_datetime(t).date()),
        Err(_) => ms.div_euclid(86_400_000),
    }
}

impl Rotation {
    /// The index of the period holding a local day, counted from the start's period.
    fn period_of(&self, day: i64) -> i64 {
        let start = local_day(&self.tz, self.start_ms);
        match &self.recurrence.pattern {
            Pattern::Daily(_) => day - start,
            Pattern::Weekly(_) => ((day - weekday(day)) - (start - weekday(start))).div_euclid(7),
            Pattern::Monthly(_) => {
                let (a, b) = (date_of(day), date_of(start));
                (a.year() as i64 * 12 + a.month() as i64)
                    - (b.year() as i64 * 12 + b.month() as i64)
            }
        }
    }

    /// The hand-off instants of period `p` (relative to the start's period), ascending.
    fn handoffs(&self, p: i64) -> Vec<i64> {
        let tz = &self.tz;
        let start = local_day(tz, self.start_ms);
        let mut out: Vec<i64> = match &self.recurrence.pattern {
            Pattern::Daily(times) => {
                let mut t = times.clone();
                t.sort_unstable();
                t.iter()
                    .map(|m| instant(tz, start + p, *m as i64))
                    .collect()
            }
            Pattern::Weekly(days) => {
                let monday = start - weekday(start) + 7 * p;
                let mut d = days.clone();
                d.sort_unstable();
                d.iter()
                    .map(|(wd, m)| instant(tz, monday + *wd as i64, *m as i64))
                    .collect()
            }
            Pattern::Monthly(days) => {
                let s = date_of(start);
                let months = s.year() as i64 * 12 + (s.month() as i64 - 1) + p;
                let (y, mo) = (months.div_euclid(12), months.rem_euclid(12) + 1);
                let first = day_number(Date::new(y as i16, mo as i8, 1).unwrap_or(Date::MAX));
                let len = month_len(y, mo);
                let mut d: Vec<(i64, i64)> = days
                    .iter()
                    .map(|(dom, m)| ((*dom as i64).min(len), *m as i64))
                    .collect();
                d.sort_unstable();
                d.iter()
                    .map(|(dom, m)| instant(tz, first + dom - 1, *m))
                    .collect()
            }
        };
        // Two hand-offs around a gap can map out of order: never let time run backwards.
        for i in 1..out.len() {
            out[i] = out[i].max(out[i - 1]);
        }
        out
    }

    fn per_period(&self) -> i64 {
        match &self.recurrence.pattern {
            Pattern::Daily(t) => t.len() as i64,
            Pattern::Weekly(t) => t.len() as i64,
            Pattern::Monthly(t) => t.len() as i64,
        }
    }

    fn members_of(&self, shift: i64) -> Vec<String> {
        let len = self.members.len();
        if len == 0 {
            return Vec::new();
        }
        let n = self.recurrence.on_calls.clamp(1, len);
        let first = (shift.max(0) as u128 * n as u128 % len as u128) as usize;
        (0..n)
            .map(|k| self.members[(first + k) % len].clone())
            .collect()
    }

    /// Regular shifts (before overrides and coverage) overlapping [from, to), clipped to it.
    fn regular(&self, from: i64, to: i64) -> Vec<Shift> {
        let from = from.max(self.start_ms);
        let k = self.per_period();
        if from >= to || k == 0 {
            return Vec::new();
        }
        let m = self.recurrence.multiplier.max(1) as i64;
        // Hand-offs of the start's own period at or before the start do not count.
        let before = self
            .handoffs(0)
            .iter()
            .filter(|h| **h <= self.start_ms)
            .count() as i64;
        let first_q = (self.period_of(local_day(&self.tz, from)).div_euclid(m) - 1).max(0);
        let mut bounds: Vec<(i64, i64)> = Vec::new();
        if first_q == 0 {
            bounds.push((self.start_ms, 0));
        }
        'periods: for q in first_q.. {
            for (j, at) in self.handoffs(q * m).into_iter().enumerate() {
                let handoff = q * k + j as i64 - before;
                if handoff < 0 {
                    continue;
                }
                bounds.push((at, handoff + 1));
                if at >= to {
                    break 'periods;
                }
            }
        }
        bounds
            .windows(2)
            .filter_map(|w| {
                let (start, end) = (w[0].0.max(from), w[1].0.min(to));
                (start < end).then(|| Shift {
                    start_ms: start,
                    end_ms: end,
                    members: self.members_of(w[0].1),
                    overridden: None,
                })
            })
            .collect()
    }

    /// Local coverage windows as instants over the days of [from, to), merged and ascending.
    fn covered(&self, from: i64, to: i64) -> Option<Vec<(i64, i64)>> {
        let cov = &self.recurrence.coverage;
        if cov.values().all(|w| w.is_empty()) {
            return None;
        }
        let mut spans = Vec::new();
        for day in local_day(&self.tz, from) - 1..=local_day(&self.tz, to) {
            for (s, e) in cov.get(&(weekday(day) as u8)).into_iter().flatten() {
                let end_day = if e <= s { day + 1 } else { day };
                let (a, b) = (
                    instant(&self.tz, day, *s as i64),
                    instant(&self.tz, end_day, *e as i64),
                );
                if a < b && b > from && a < to {
                    spans.push((a.max(from), b.min(to)));
                }
            }
        }
        spans.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (a, b) in spans {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        Some(merged)
    }
}

/// The shifts overlapping [from, to), ascending and clipped to the window: regular shifts with
/// overrides applied (later overrides win), restricted to the coverage windows if any.
pub fn shifts(rot: &Rotation, overrides: &[Override], from: i64, to: i64) -> Vec<Shift> {
    let mut out = Vec::new();
    for shift in rot.regular(from, to) {
        // Cut the shift where overrides begin or end, then give each piece its holders.
        let mut cuts = vec![shift.start_ms, shift.end_ms];
        for o in overrides {
            for t in [o.start_ms, o.end_ms] {
                if t > shift.start_ms && t < shift.end_ms {
                    cuts.push(t);
                }
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let winner = overrides
                .iter()
                .rev()
                .find(|o| o.start_ms <= a && o.end_ms >= b);
            out.push(match winner {
                Some(o) => Shift {
                    start_ms: a,
                    end_ms: b,
                    members: o.members.clone(),
                    overridden: Some(shift.members.clone()),
                },
                None => Shift {
                    start_ms: a,
                    end_ms: b,
                    ..shift.clone()
                },
            });
        }
    }
    let Some(covered) = rot.covered(from, to) else {
        return out;
    };
    let mut clipped = Vec::new();
    for s in out {
        for (a, b) in &covered {
            let (start, end) = (s.start_ms.max(*a), s.end_ms.min(*b));
            if start < end {
                clipped.push(Shift {
                    start_ms: start,
                    end_ms: end,
                    ..s.clone()
                });
            }
        }
    }
    clipped
}

/// Who is on call at an instant (nobody outside coverage or before the rotation starts).
pub fn on_call(rot: &Rotation, overrides: &[Override], at: i64) -> Vec<String> {
    shifts(rot, overrides, at, at + 1)
        .into_iter()
        .next()
        .map(|s| s.members)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOUR: i64 = 3_600_000;

    fn ms(tz: &str, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        let dt = jiff::civil::date(y, mo, d).at(h, mi, 0, 0);
        TimeZone::get(tz)
            .unwrap()
            .to_timestamp(dt)
            .unwrap()
            .as_millisecond()
    }

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("m{i}")).collect()
    }

    fn rotation(tz: &str, start: i64, n: usize, pattern: Pattern) -> Rotation {
        Rotation {
            members: members(n),
            start_ms: start,
            tz: time_zone(tz).unwrap(),
            recurrence: Recurrence {
                on_calls: 1,
                multiplier: 1,
                pattern,
                coverage: BTreeMap::new(),
            },
        }
    }

    fn local_hm(tz: &str, at: i64) -> (i8, i8) {
        let t = Timestamp::from_millisecond(at).unwrap();
        let dt = TimeZone::get(tz).unwrap().to_datetime(t);
        (dt.hour(), dt.minute())
    }

    #[test]
    fn daily_hand_offs_keep_local_time_across_dst() {
        let tz = "America/New_York";
        let start = ms(tz, 2026, 3, 6, 9, 0);
        let r = rotation(tz, start, 3, Pattern::Daily(vec![local_time(9, 0)]));
        let s = shifts(&r, &[], start, ms(tz, 2026, 3, 12, 9, 0));
        assert_eq!(s.len(), 6);
        let lengths: Vec<i64> = s.iter().map(|x| (x.end_ms - x.start_ms) / HOUR).collect();
        // New York springs forward on 2026-03-08 at 02:00: the shift from 03-07 09:00 to
        // 03-08 09:00 lasts 23 hours.
        assert_eq!(lengths, vec![24, 23, 24, 24, 24, 24]);
        for x in &s {
            assert_eq!(local_hm(tz, x.start_ms), (9, 0));
        }
        let who: Vec<&str> = s.iter().map(|x| x.members[0].as_str()).collect();
        assert_eq!(who, ["m0", "m1", "m2", "m0", "m1", "m2"]);
    }

    #[test]
    fn a_hand_off_in_a_gap_moves_forward_by_the_gap_and_a_repeated_one_is_the_earlier() {
        // Lord Howe springs forward 02:00 → 02:30 on 2026-10-04: 02:15 does not exist.
        let tz = "Australia/Lord_Howe";
        let start = ms(tz, 2026, 10, 2, 2, 15);
        let r = rotation(tz, start, 2, Pattern::Daily(vec![local_time(2, 15)]));
        let s = shifts(&r, &[], start, start + 4 * 24 * HOUR);
        let gap_day = s
            .iter()
            .find(|x| local_hm(tz, x.start_ms) == (2, 45))
            .unwrap();
        assert_eq!(
            gap_day.start_ms,
            ms(tz, 2026, 10, 4, 2, 45),
            "02:15 is read as 02:45"
        );
        // New York falls back on 2026-11-01: 01:30 happens twice; the earlier one counts.
        let tz = "America/New_York";
        let start = ms(tz, 2026, 10, 30, 1, 30);
        let r = rotation(tz, start, 2, Pattern::Daily(vec![local_time(1, 30)]));
        let s = shifts(&r, &[], start, start + 4 * 24 * HOUR);
        let lengths: Vec<i64> = s.iter().map(|x| (x.end_ms - x.start_ms) / HOUR).collect();
        assert_eq!(&lengths[..3], &[24, 24, 25]);
    }

    #[test]
    fn weekly_and_monthly_patterns_with_multipliers_and_short_months() {
        let tz = "Europe/London";
        // Thursday 2026-01-01 10:00; hand-offs Monday 09:00 and Thursday 17:00.
        let start = ms(tz, 2026, 1, 1, 10, 0);
        let r = rotation(
            tz,
            start,
            2,
            Pattern::Weekly(vec![(0, local_time(9, 0)), (3, local_time(17, 0))]),
        );
        let s = shifts(&r, &[], start, ms(tz, 2026, 1, 12, 9, 0));
        let starts: Vec<i64> = s.iter().map(|x| x.start_ms).collect();
        assert_eq!(
            starts,
            vec![
                start,
                ms(tz, 2026, 1, 1, 17, 0),
                ms(tz, 2026, 1, 5, 9, 0),
                ms(tz, 2026, 1, 8, 17, 0)
            ]
        );
        // Day 31 each month falls on the month's last day; every second month.
        let mut r = rotation(tz, start, 3, Pattern::Monthly(vec![(31, local_time(8, 0))]));
        r.recurrence.multiplier = 2;
        let s = shifts(&r, &[], start, ms(tz, 2026, 8, 1, 0, 0));
        let ends: Vec<i64> = s.iter().map(|x| x.end_ms).collect();
        assert_eq!(
            ends[..3],
            [
                ms(tz, 2026, 1, 31, 8, 0),
                ms(tz, 2026, 3, 31, 8, 0),
                ms(tz, 2026, 5, 31, 8, 0)
            ]
        );
        let mut r = rotation(tz, start, 3, Pattern::Monthly(vec![(31, local_time(8, 0))]));
        r.recurrence.multiplier = 1;
        let s = shifts(&r, &[], start, ms(tz, 2026, 4, 1, 0, 0));
        assert_eq!(s[1].end_ms, ms(tz, 2026, 2, 28, 8, 0));
    }

    #[test]
    fn overrides_replace_exactly_their_span_and_coverage_limits_shifts() {
        let tz = "UTC";
        let start = ms(tz, 2026, 1, 5, 0, 0); // a Monday
        let mut r = rotation(tz, start, 2, Pattern::Daily(vec![0]));
        let o = Override {
            start_ms: start + 6 * HOUR,
            end_ms: start + 30 * HOUR,
            members: vec!["sub".into()],
        };
        let s = shifts(&r, std::slice::from_ref(&o), start, start + 48 * HOUR);
        let view: Vec<(i64, &str, bool)> = s
            .iter()
            .map(|x| {
                (
                    (x.start_ms - start) / HOUR,
                    x.members[0].as_str(),
                    x.overridden.is_some(),
                )
            })
            .collect();
        assert_eq!(
            view,
            vec![
                (0, "m0", false),
                (6, "sub", true),
                (24, "sub", true),
                (30, "m1", false)
            ]
        );
        assert_eq!(s[1].overridden.as_deref(), Some(&["m0".to_string()][..]));
        // Weekdays 09:00–17:00 only.
        for wd in 0..5 {
            r.recurrence
                .coverage
                .insert(wd, vec![(local_time(9, 0), local_time(17, 0))]);
        }
        let s = shifts(&r, &[], start, start + 7 * 24 * HOUR);
        assert_eq!(s.len(), 5);
        assert!(s.iter().all(|x| x.end_ms - x.start_ms == 8 * HOUR));
        assert_eq!(on_call(&r, &[], start + 20 * HOUR), Vec::<String>::new());
        assert_eq!(on_call(&r, &[], start + 24 * HOUR + 10 * HOUR), vec!["m1"]);
    }

    #[test]
    fn the_cost_of_a_window_does_not_depend_on_the_rotation_age_and_ids_are_checked() {
        let tz = "Asia/Kolkata";
        let now = ms(tz, 2026, 6, 1, 0, 0);
        let old = rotation(
            tz,
            now - 3650 * 24 * HOUR,
            30,
            Pattern::Daily(vec![local_time(8, 0)]),
        );
        let s = shifts(&old, &[], now, now + 365 * 24 * HOUR);
        assert_eq!(s.len(), 366);
        assert!(time_zone("PST").is_none() && time_zone("EST").is_none());
        assert!(time_zone("UTC").is_some() && time_zone("Pacific/Chatham").is_some());
        assert!(time_zone("Mars/Olympus").is_none());
    }

    const ZONES: &[&str] = &[
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "Pacific/Chatham",
        "UTC",
    ];

    fn pattern() -> impl Strategy<Value = Pattern> {
        let t = (0i32..24, 0i32..60).prop_map(|(h, m)| local_time(h, m));
        prop_oneof![
            proptest::collection::vec(t.clone(), 1..3).prop_map(Pattern::Daily),
            proptest::collection::vec((0u8..7, t.clone()), 1..4).prop_map(Pattern::Weekly),
            proptest::collection::vec((1u8..32, t), 1..3).prop_map(Pattern::Monthly),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn shifts_tile_the_window_and_hand_offs_land_on_the_configured_local_time(
            zone in 0usize..6,
            pattern in pattern(),
            multiplier in 1u32..4,
            n in 1usize..6,
            on_calls in 1usize..3,
            start_day in 0i64..(6 * 365),
            offset_days in 0i64..800,
            window_days in 1i64..120,
        ) {
            let tz = ZONES[zone];
            let base = ms("UTC", 2022, 1, 1, 0, 0);
            let start = base + start_day * 24 * HOUR + 7 * HOUR + 13 * 60_000;
            let mut r = rotation(tz, start, n, pattern.clone());
            r.recurrence.multiplier = multiplier;
            r.recurrence.on_calls = on_calls;
            let from = start + offset_days * 24 * HOUR - 5 * HOUR;
            let to = from + window_days * 24 * HOUR;
            let s = shifts(&r, &[], from, to);
            // Tiled: from max(from, start) to `to`, no gap, no overlap, ascending.
            let mut at = from.max(start);
            for x in &s {
                prop_assert_eq!(x.start_ms, at);
                prop_assert!(x.end_ms > x.start_ms);
                at = x.end_ms;
            }
            prop_assert_eq!(at, to);
            // Every shift boundary inside the window is a hand-off at a configured local time.
            let times: Vec<LocalTime> = match &pattern {
                Pattern::Daily(t) => t.clone(),
                Pattern::Weekly(t) | Pattern::Monthly(t) => t.iter().map(|x| x.1).collect(),
            };
            for x in s.iter().skip(1) {
                let (h, m) = local_hm(tz, x.start_ms);
                let t = local_time(h as i32, m as i32);
                let mapped = times.iter().any(|c| {
                    *c == t
                        // a hand-off in a spring-forward gap moves forward by the gap
                        || (t > *c && t - c <= 60)
                });
                prop_assert!(mapped, "boundary at {:?} not a configured hand-off {:?}", (h, m), times);
            }
            // The same instant asked twice, or through a different window, gives the same people.
            if let Some(mid) = s.get(s.len() / 2) {
                let at = mid.start_ms + (mid.end_ms - mid.start_ms) / 2;
                prop_assert_eq!(on_call(&r, &[], at), mid.members.clone());
                prop_assert_eq!(on_call(&r, &[], at), on_call(&r, &[], at));
            }
        }

        #[test]
        fn overrides_replace_exactly_their_span(
            zone in 0usize..6,
            n in 1usize..5,
            o_start in 0i64..(40 * 24),
            o_len in 1i64..(10 * 24),
        ) {
            let tz = ZONES[zone];
            let start = ms("UTC", 2026, 3, 1, 0, 0);
            let r = rotation(tz, start, n, Pattern::Daily(vec![local_time(9, 30)]));
            let o = Override {
                start_ms: start + o_start * HOUR,
                end_ms: start + (o_start + o_len) * HOUR,
                members: vec!["sub".into()],
            };
            let (from, to) = (start, start + 60 * 24 * HOUR);
            let plain = shifts(&r, &[], from, to);
            let with = shifts(&r, std::slice::from_ref(&o), from, to);
            for probe in (0..60 * 24).map(|h| start + h * HOUR + 1) {
                let inside = probe >= o.start_ms && probe < o.end_ms;
                let got = on_call(&r, std::slice::from_ref(&o), probe);
                if inside {
                    prop_assert_eq!(got, vec!["sub".to_string()]);
                } else {
                    prop_assert_eq!(got, on_call(&r, &[], probe));
                }
            }
            let covered: i64 = with.iter().map(|x| x.end_ms - x.start_ms).sum();
            let plain_total: i64 = plain.iter().map(|x| x.end_ms - x.start_ms).sum();
            prop_assert_eq!(covered, plain_total);
        }
    }
}
