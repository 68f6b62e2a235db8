//! `eventTime` parsing: CloudTrail writes RFC 3339 with `Z`; SIEM-normalised
//! copies drop the `T` and the zone and add fractions, always meaning UTC.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};

/// The times an event can truly have: not before CloudTrail existed (it
/// launched on 2013-11-13), not after a day past the wall clock. An
/// `eventTime` outside is data an attacker wrote, not a time: it is set
/// aside and counted, and never becomes "now", sizes a range or reaches
/// the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plausible {
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
}

impl Plausible {
    /// As of the wall-clock time `now` (from a clock, never from data).
    #[must_use]
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            earliest: Utc
                .with_ymd_and_hms(2013, 11, 13, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            latest: now + Duration::days(1),
        }
    }

    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.earliest <= t && t <= self.latest
    }
}

/// Parses an `eventTime`, or `None` when it is no recognisable time.
#[must_use]
pub fn parse_event_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = text.trim_end_matches(['Z', 'z']).replacen(' ', "T", 1);
    NaiveDateTime::parse_from_str(&naive, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> String {
        parse_event_time(text)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn accepts_cloudtrail_and_vendor_forms() {
        assert_eq!(utc("2025-05-20T20:44:37Z"), "2025-05-20T20:44:37+00:00");
        assert_eq!(
            utc("2025-05-20T22:44:37+02:00"),
            "2025-05-20T20:44:37+00:00"
        );
        assert_eq!(utc("2024-01-01 00:00:00.000"), "2024-01-01T00:00:00+00:00");
        assert_eq!(
            utc("2025-03-05 21:19:44.000000000"),
            "2025-03-05T21:19:44+00:00"
        );
        assert_eq!(utc("2021-10-19 00:56:05"), "2021-10-19T00:56:05+00:00");
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in ["", "yesterday", "2021-13-01T00:00:00Z", "1634604965"] {
            assert_eq!(parse_event_time(bad), None, "{bad}");
        }
    }
}
