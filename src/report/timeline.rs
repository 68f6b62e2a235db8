//! Calls and denied calls per minute over a report's range: the timeline
//! of a handed-over report. One entry per minute that saw an event, so a
//! week is at most ~10,000 small entries whatever the volume.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Minute {
    pub events: u64,
    pub denied: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// By minute since the epoch.
    minutes: BTreeMap<i64, Minute>,
}

/// A stretch of the timeline, as one bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub events: u64,
    pub denied: u64,
}

impl Timeline {
    pub fn add(&mut self, time: DateTime<Utc>, denied: bool) {
        let m = self
            .minutes
            .entry(time.timestamp().div_euclid(60))
            .or_default();
        m.events += 1;
        m.denied += u64::from(denied);
    }

    pub fn merge(&mut self, other: Self) {
        for (minute, o) in other.minutes {
            let m = self.minutes.entry(minute).or_default();
            m.events += o.events;
            m.denied += o.denied;
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }

    /// The range in at most `max` bars of one round width (1, 2, 5, 10,
    /// 15 or 30 minutes, 1, 2, 3, 6 or 12 hours, or whole days), aligned
    /// to it in UTC, from the first bar with events to the last; empty
    /// stretches are bars of zero.
    #[must_use]
    pub fn bars(&self, max: usize) -> Vec<Bar> {
        let (Some((&first, _)), Some((&last, _))) = (
            self.minutes.first_key_value(),
            self.minutes.last_key_value(),
        ) else {
            return Vec::new();
        };
        let max = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
        let count = |width: i64| last.div_euclid(width) - first.div_euclid(width) + 1;
        let width = ROUND_MINUTES
            .iter()
            .copied()
            .find(|&w| count(w) <= max)
            .unwrap_or_else(|| {
                let days = (last - first + 1).div_euclid(1440 * max) + 1;
                // One of these three fits: each bar spans a day more.
                (days..days + 3)
                    .map(|d| d * 1440)
                    .find(|&w| count(w) <= max)
                    .unwrap_or((days + 2) * 1440)
            });
        let start = first.div_euclid(width) * width;
        let at = |minute: i64| DateTime::from_timestamp(minute * 60, 0).unwrap_or_default();
        let mut bars: Vec<Bar> = (0..count(width))
            .map(|i| Bar {
                start: at(start + i * width),
                end: at(start + (i + 1) * width),
                events: 0,
                denied: 0,
            })
            .collect();
        for (&minute, m) in &self.minutes {
            if let Some(bar) = usize::try_from((minute - start) / width)
                .ok()
                .and_then(|i| bars.get_mut(i))
            {
                bar.events += m.events;
                bar.denied += m.denied;
            }
        }
        bars
    }
}

/// Bars a handed-over report's timeline has at most (the HTML page's
/// chart and the Markdown page's rows).
pub const BARS: usize = 120;

/// The bar of `bars` that holds `t`; a time before the first bar is in the
/// first, after the last in the last (as the page draws it).
#[must_use]
pub fn bar_of(bars: &[Bar], t: DateTime<Utc>) -> Option<usize> {
    let last = bars.len().checked_sub(1)?;
    Some(bars.iter().position(|b| t < b.end).unwrap_or(last))
}

/// Bar widths below a day, in minutes.
const ROUND_MINUTES: [i64; 11] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720];

/// A bar's width in words: "5 minutes", "3 hours", "2 days".
#[must_use]
pub fn width_words(bar: &Bar) -> String {
    let minutes = (bar.end - bar.start).num_minutes();
    let (n, unit) = if minutes % 1440 == 0 {
        (minutes / 1440, "day")
    } else if minutes % 60 == 0 {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(minute * 60 + 7, 0).unwrap_or_default()
    }

    #[test]
    fn bars_cover_the_range_and_keep_every_count() {
        let mut t = Timeline::default();
        for (minute, denied) in [(100, false), (100, true), (105, false), (399, true)] {
            t.add(at(minute), denied);
        }
        let bars = t.bars(100);
        assert_eq!(bars.len(), 60, "300 minutes in bars of 5");
        assert_eq!(width_words(&bars[0]), "5 minutes");
        assert_eq!(bars[0].events, 2);
        assert_eq!(bars[0].denied, 1);
        assert_eq!(bars.iter().map(|b| b.events).sum::<u64>(), 4);
        assert_eq!(bars.last().map(|b| b.denied), Some(1));
        assert_eq!(bars[1].start, bars[0].end);
        assert_eq!(bar_of(&bars, at(100)), Some(0));
        assert_eq!(bar_of(&bars, at(105)), Some(1));
        assert_eq!(bar_of(&bars, at(0)), Some(0));
        assert_eq!(bar_of(&bars, at(10_000)), Some(59));
        assert_eq!(bar_of(&[], at(0)), None);
        let mut other = Timeline::default();
        other.add(at(105), true);
        t.merge(other);
        assert_eq!(t.bars(1)[0].denied, 3);
        assert_eq!(width_words(&t.bars(1)[0]), "12 hours");
        t.add(at(100 + 1440 * 400), false);
        let long = t.bars(120);
        assert!(long.len() <= 120 && long.len() > 60, "{}", long.len());
        assert_eq!(long.iter().map(|b| b.events).sum::<u64>(), 6);
    }
}
