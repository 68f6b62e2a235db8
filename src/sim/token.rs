//! LookupEvents' `NextToken`: opaque to clients, bound to the request it
//! continues, and a position (the last event returned) rather than an
//! offset, so events that become visible while a client pages do not shift
//! the pages; a later re-read of the window catches them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// Where a page ended, for one exact request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Fingerprint of the request's window and attributes.
    #[serde(rename = "r")]
    pub request: u64,
    /// The last returned event's time (epoch seconds) and id: the next page
    /// starts strictly after it in newest-first order.
    #[serde(rename = "t")]
    pub time: i64,
    #[serde(rename = "i")]
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        STANDARD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// `None` for anything this simulator did not hand out.
    pub fn decode(token: &str) -> Option<Self> {
        let bytes = STANDARD.decode(token.trim()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// FNV-1a over the parts that define a request: a token may only continue
/// the request whose fingerprint it carries.
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let c = Cursor {
            request: fingerprint(&["1", "2", "EventSource=kms.amazonaws.com"]),
            time: 1_700_000_000,
            id: "a6c3f5e1-0000-4000-8000-000000000001".into(),
        };
        let token = c.encode();
        assert!(!token.contains('{'), "opaque: {token}");
        assert_eq!(Cursor::decode(&token), Some(c));
        for bad in ["", "abc", "!!!", &STANDARD.encode(b"{\"r\":1}")] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_ne!(fingerprint(&["1", "2"]), fingerprint(&["1", "3"]));
        assert_eq!(fingerprint(&["1", "2"]), fingerprint(&["1", "2"]));
    }
}
