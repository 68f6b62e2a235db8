//! The two own texts every event has, held in fewer bytes when they are
//! in the form CloudTrail writes them: the time text is not held at all
//! when it is the canonical rendering of the parsed time, and the event
//! id is held as 16 bytes when it is a lowercase UUID. Each is rendered
//! back exactly: an odd text (another case, fractional seconds, an offset)
//! is held as it came.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::{Code, ID, ID_UUID, PackedEvent};

impl PackedEvent {
    /// The event id, as [`Self::view`] would give it.
    #[must_use]
    pub fn event_id(&self) -> Cow<'_, str> {
        match self.uuid_id() {
            Some(chars) => Cow::Owned(String::from_utf8_lossy(&chars).into_owned()),
            None => Cow::Borrowed(self.text(ID).unwrap_or_default()),
        }
    }

    /// `f` of the event id, rendered without an allocation when it is
    /// held as a UUID: the replay's tie is taken from every event's.
    pub fn event_id_with<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self.uuid_id() {
            Some(chars) => f(std::str::from_utf8(&chars).unwrap_or_default()),
            None => f(self.text(ID).unwrap_or_default()),
        }
    }

    /// The event id's text when it is held as a UUID's 16 bytes.
    fn uuid_id(&self) -> Option<[u8; 36]> {
        if self.present & ID_UUID == 0 {
            return None;
        }
        let mut start = 0usize;
        for (i, code) in self.codes() {
            if let Code::Own(end) = code {
                if i == ID {
                    return self.uuid_at(start, end);
                }
                start = end;
            }
        }
        None
    }

    /// The id's text from the UUID's 16 bytes held at `start..end` of the
    /// text area.
    pub(super) fn uuid_at(&self, start: usize, end: usize) -> Option<[u8; 36]> {
        let at = self.texts_at as usize;
        self.block.get(at + start..at + end).map(uuid_chars)
    }
}

/// `time` as CloudTrail writes it (`2025-01-01T00:00:00Z`), when it has
/// whole seconds and a year of four digits.
pub(super) fn canonical_time(time: DateTime<Utc>) -> Option<[u8; 20]> {
    let year = u32::try_from(time.year()).ok().filter(|y| *y <= 9999)?;
    if time.nanosecond() != 0 {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + u8::try_from(v % 10).unwrap_or(0);
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, time.month());
    put(8, 2, time.day());
    put(11, 2, time.hour());
    put(14, 2, time.minute());
    put(17, 2, time.second());
    Some(out)
}

/// The canonical time text, rendered again (see [`canonical_time`]).
pub(super) fn time_text(time: DateTime<Utc>) -> String {
    canonical_time(time)
        .and_then(|b| std::str::from_utf8(&b).ok().map(str::to_owned))
        .unwrap_or_default()
}

/// Where the hyphens of a UUID's text are.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// The 16 bytes of `text` when it is a UUID in lowercase hex with its
/// hyphens (`8-4-4-4-12`), which [`uuid_text`] renders back as it was.
pub(super) fn uuid_bytes(text: &str) -> Option<[u8; 16]> {
    let b = text.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut digits = 0usize;
    for (i, &c) in b.iter().enumerate() {
        if HYPHENS.contains(&i) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        out[digits / 2] |= v << if digits.is_multiple_of(2) { 4 } else { 0 };
        digits += 1;
    }
    Some(out)
}

/// The text of a UUID held by [`uuid_bytes`], in place.
fn uuid_chars(bytes: &[u8]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut at = 0usize;
    for (i, &b) in bytes.iter().take(16).enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1;
        }
        out[at] = HEX[usize::from(b >> 4)];
        out[at + 1] = HEX[usize::from(b & 0xf)];
        at += 2;
    }
    out
}
