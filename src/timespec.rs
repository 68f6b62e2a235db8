//! `--since` / `--until` values: an RFC 3339 time, a date, or an age such
//! as `90s`, `15m`, `2h`, `7d`, `1w` counted back from now.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// A point in time as the user wrote it; relative ones need `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    At(DateTime<Utc>),
    Ago(Duration),
}

impl TimeSpec {
    #[must_use]
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeSpec::At(t) => t,
            // Ages are at most a century (`parse_age`), and a clock near
            // the start of time still must not panic.
            TimeSpec::Ago(d) => now
                .checked_sub_signed(d)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

/// Parses a time spec (clap value parser).
///
/// # Errors
/// A message saying which forms are accepted.
pub fn parse_time_spec(text: &str) -> Result<TimeSpec, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(TimeSpec::At(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(TimeSpec::At(t.and_utc()));
    }
    parse_age(text).map(TimeSpec::Ago).ok_or_else(|| {
        format!(
            "{text:?} is not a time: use RFC 3339 (2025-05-20T20:44:37Z), a date \
             (2025-05-20, UTC), or an age such as 90s, 15m, 2h, 7d, 1w (at most 36500d)"
        )
    })
}

/// The longest age or duration a flag takes: a century. Longer ones are
/// typos, and time arithmetic with them overflows.
pub const MAX_AGE_DAYS: i64 = 36_500;

/// An age such as `90s`, `15m`, `2h`, `7d`, `1w`, at most [`MAX_AGE_DAYS`].
#[must_use]
pub fn parse_age(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    let seconds = n.checked_mul(seconds)?;
    (seconds <= MAX_AGE_DAYS * 86_400).then(|| Duration::try_seconds(seconds))?
}

/// The shortest exact spelling of `d` in the units [`parse_age`] reads.
#[must_use]
pub fn format_age(d: Duration) -> String {
    let seconds = d.num_seconds();
    for (unit, size) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds != 0 && seconds % size == 0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn absolute_relative_and_dates() {
        let now = Utc
            .with_ymd_and_hms(2025, 5, 20, 12, 0, 0)
            .single()
            .expect("valid");
        let at = |s: &str| parse_time_spec(s).map(|t| t.resolve(now).to_rfc3339());
        assert_eq!(at("2h"), Ok("2025-05-20T10:00:00+00:00".into()));
        assert_eq!(at("7d"), Ok("2025-05-13T12:00:00+00:00".into()));
        assert_eq!(at("90s"), Ok("2025-05-20T11:58:30+00:00".into()));
        assert_eq!(at("1w"), Ok("2025-05-13T12:00:00+00:00".into()));
        assert_eq!(
            at("2025-01-02T03:04:05Z"),
            Ok("2025-01-02T03:04:05+00:00".into())
        );
        assert_eq!(
            at("2025-01-02T05:04:05+02:00"),
            Ok("2025-01-02T03:04:05+00:00".into())
        );
        assert_eq!(at("2025-01-02"), Ok("2025-01-02T00:00:00+00:00".into()));
    }

    #[test]
    fn ages_round_trip() {
        for text in ["90s", "15m", "2h", "7d", "1w", "0s", "25h"] {
            let d = parse_age(text).expect(text);
            assert_eq!(parse_age(&format_age(d)), Some(d), "{text}");
        }
        assert_eq!(format_age(Duration::minutes(120)), "2h");
    }

    #[test]
    fn rejects_with_a_hint() {
        for bad in [
            "",
            "2",
            "h",
            "2x",
            "-2h",
            "yesterday",
            "2025-13-01",
            "99999999999999999d",
        ] {
            let err = parse_time_spec(bad).expect_err(bad);
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
    }
}
