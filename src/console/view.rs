//! How times, ages and names read on a console page.

use crate::shapes::Timestamp;

/// "3 min", "2 h 5 min", "4 d 3 h": how long ago (or how long), to the minute.
pub fn span(ms: i64) -> String {
    let min = ms.max(0) / 60_000;
    let (d, h, m) = (min / 1440, (min / 60) % 24, min % 60);
    match (d, h) {
        (0, 0) if m == 0 => "under a minute".into(),
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

fn zoned(ms: i64, tz: &str) -> Option<jiff::ZonedDateTime> {
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    let tz = jiff::tz::TimeZone::get(tz).ok()?;
    Some(ts.to_zoned_datetime(tz))
}

/// A clock time with its zone: "Tue 8 Dec 2026 09:00 EST".
pub fn at(ms: i64, tz: &str) -> String {
    match zoned(ms, tz) {
        Some(z) => z.strftime("%a %-d %b %Y %H:%M %Z").to_string(),
        None => utc(ms),
    }
}

/// Just the clock time in the zone: "09:00".
pub fn clock(ms: i64, tz: &str) -> String {
    zoned(ms, tz)
        .map(|z| z.strftime("%H:%M").to_string())
        .unwrap_or_default()
}

pub fn utc(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// For `<time datetime=…>`, which the page's script turns into the reader's own time.
pub fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

pub fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.millis())
}

/// A name as one segment of a console path (aliases, plan names and ids keep their `-`, `_`
/// and `.`).
pub fn segment(s: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.');
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}

/// The last part of an ARN: a contact's alias, a channel's or page's id.
pub fn tail(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The midnights of `days` days in the zone, from the one that starts today.
pub fn days(now_ms: i64, tz: &str, days: usize) -> Vec<(i64, String)> {
    let Some(z) = zoned(now_ms, tz) else {
        return Vec::new();
    };
    let Ok(mut day) = z.start_of_day() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(days);
    for _ in 0..days {
        out.push((
            day.timestamp().as_millisecond(),
            day.strftime("%a %-d %b").to_string(),
        ));
        match day.tomorrow() {
            Ok(d) => day = d,
            Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_minutes_hours_and_days() {
        assert_eq!(span(30_000), "under a minute");
        assert_eq!(span(5 * 60_000), "5 min");
        assert_eq!(span(125 * 60_000), "2 h 5 min");
        assert_eq!(span((4 * 1440 + 180) * 60_000), "4 d 3 h");
    }

    #[test]
    fn times_are_told_in_the_rotation_zone_with_its_name() {
        // 2026-12-08T14:00:00Z is 09:00 in New York (EST).
        let t = 1_796_738_400_000;
        assert_eq!(at(t, "America/New_York"), "Tue 8 Dec 2026 09:00 EST");
        assert_eq!(clock(t, "America/New_York"), "09:00");
        assert_eq!(utc(t), "2026-12-08 14:00:00 UTC");
    }

    #[test]
    fn days_follow_the_zone_across_a_daylight_saving_change() {
        // 2026-03-07 12:00 New York: the next day has 23 hours.
        let d = days(1_772_902_800_000, "America/New_York", 3);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].1, "Sat 7 Mar");
        assert_eq!(d[1].0 - d[0].0, 24 * 3_600_000);
        assert_eq!(d[2].0 - d[1].0, 23 * 3_600_000);
    }
}
