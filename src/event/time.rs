//! `eventTime` parsing: CloudTrail writes RFC 3339 with `Z`; SIEM-normalised
//! copies drop the `T` and the zone and add fractions, always meaning UTC.

use chrono::{DateTime, NaiveDateTime, Utc};

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
