//! Telling log files from other files by their first bytes, and inflating
//! gzip.

use std::io::{self, Read};

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Gzip,
    Json,
    /// A README, a `.DS_Store`, an empty file…
    Other,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

#[must_use]
pub fn sniff(bytes: &[u8]) -> Sniffed {
    if bytes.starts_with(&GZIP_MAGIC) {
        return Sniffed::Gzip;
    }
    let text = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => Sniffed::Json,
        _ => Sniffed::Other,
    }
}

/// Drops a UTF-8 byte-order mark, which JSON parsers reject.
#[must_use]
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// Deflate cannot expand data more than about 1032 times, so a trailer
/// claiming more than this per compressed byte is a lie (or a broken file)
/// and is not trusted for an up-front allocation.
const MAX_DEFLATE_RATIO: usize = 1032;
/// No CloudTrail log file comes near this, read or inflated (a file holds
/// about five minutes of one region: tens of MB at the busiest); one that
/// does is a decompression bomb or not a log. Per reader thread, so the
/// readers' memory stays bounded.
pub const MAX_INFLATED: u64 = 128 << 20;

/// Inflates a whole gzip file.
///
/// CloudTrail writes single-member gzip whose trailer gives the inflated
/// size, so libdeflate can inflate it in one call into an exact buffer.
/// Anything else (several members, a lying trailer) goes through flate2's
/// streaming multi-member decoder, which also gives the better error text.
///
/// # Errors
/// Corrupt or truncated gzip data.
pub fn gunzip(data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    if let Some((crc, size)) = trailer(data)
        && size <= data.len().saturating_mul(MAX_DEFLATE_RATIO)
        && size as u64 <= MAX_INFLATED
    {
        out.resize(size, 0);
        let mut inflater = libdeflater::Decompressor::new();
        if let Ok(n) = inflater.gzip_decompress(data, out)
            && n == size
            && libdeflater::crc32(out) == crc
        {
            return Ok(());
        }
        out.clear();
    }
    flate2::read::MultiGzDecoder::new(data)
        .take(MAX_INFLATED + 1)
        .read_to_end(out)
        .map_err(|e| io::Error::new(e.kind(), format!("bad gzip data: {e}")))?;
    if out.len() as u64 > MAX_INFLATED {
        out.clear();
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "gzip data inflates to more than {} MB: larger than any CloudTrail log file",
                MAX_INFLATED >> 20
            ),
        ));
    }
    Ok(())
}

/// The CRC-32 and size (mod 2³²) from the last member's trailer.
fn trailer(data: &[u8]) -> Option<(u32, usize)> {
    let tail: &[u8; 8] = data.get(data.len().checked_sub(8)?..)?.try_into().ok()?;
    let crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let size = u32::from_le_bytes([tail[4], tail[5], tail[6], tail[7]]);
    Some((crc, usize::try_from(size).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text).expect("in-memory write");
        enc.finish().expect("in-memory gzip")
    }

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(sniff(&gzip(b"{}")), Sniffed::Gzip);
        assert_eq!(sniff(b" \n\t{\"Records\":[]}"), Sniffed::Json);
        assert_eq!(sniff(b"\xEF\xBB\xBF[1]"), Sniffed::Json);
        assert_eq!(sniff(b"# README"), Sniffed::Other);
        assert_eq!(sniff(b"\x00\x00\x00\x01Bud1"), Sniffed::Other);
        assert_eq!(sniff(b""), Sniffed::Other);
    }

    #[test]
    fn inflates_single_and_multi_member() {
        let mut out = Vec::new();
        gunzip(&gzip(b"hello"), &mut out).expect("single member");
        assert_eq!(out, b"hello");
        let mut two = gzip(b"hello ");
        two.extend(gzip(b"world"));
        gunzip(&two, &mut out).expect("two members");
        assert_eq!(out, b"hello world");
    }

    #[test]
    fn a_lying_trailer_allocates_nothing_big() {
        let mut liar = gzip(b"{}");
        let n = liar.len();
        liar[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut out = Vec::new();
        assert!(gunzip(&liar, &mut out).is_err());
        assert!(out.capacity() < 1 << 20, "{}", out.capacity());
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let data = gzip(&b"{\"Records\":[]}".repeat(100));
        let mut out = Vec::new();
        let err = gunzip(&data[..data.len() / 2], &mut out).expect_err("truncated");
        assert!(err.to_string().contains("gzip"), "{err}");
    }
}
