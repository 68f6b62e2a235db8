//! The SDK's own date type to and from chrono, in one place.

use aws_smithy_types::DateTime as SmithyTime;
use chrono::{DateTime, Utc};

pub fn to_smithy(t: DateTime<Utc>) -> SmithyTime {
    SmithyTime::from_millis(t.timestamp_millis())
}

pub fn from_smithy(t: &SmithyTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_the_millisecond() {
        let t = DateTime::from_timestamp(1_764_000_000, 123_000_000).expect("valid");
        assert_eq!(from_smithy(&to_smithy(t)), Some(t));
    }
}
