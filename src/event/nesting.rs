//! How deep JSON nests, checked before a parser that recurses sees it.
//!
//! sonic-rs skips values it does not read (`IgnoredAny`, `LazyValue`) by
//! recursing once per level with no limit: a few hundred bytes of `[[[[…`
//! anywhere in a record, even in a field kmstop never reads, overflow the
//! stack and abort the process. Every text goes through [`too_deep`]
//! first. CloudTrail records nest about ten levels; past [`MAX_DEPTH`] a
//! record is malformed.
//!
//! The check is nearly free on real logs: a vectorisable count of brackets
//! per 64-byte block bounds the depth from above (brackets inside strings
//! only raise the bound), and only a text whose bound passes the limit is
//! walked exactly, byte by byte, skipping strings.

/// The deepest nesting of objects and arrays a record may have.
pub const MAX_DEPTH: usize = 64;

/// Whether `text` nests objects and arrays deeper than [`MAX_DEPTH`].
pub fn too_deep(text: &str) -> bool {
    bound(text.as_bytes()) > MAX_DEPTH && exact(text.as_bytes()) > MAX_DEPTH
}

/// An upper bound on the depth: within a block the depth rises at most
/// by the block's openers.
fn bound(bytes: &[u8]) -> usize {
    let (mut depth, mut most) = (0_i64, 0_i64);
    for block in bytes.chunks(64) {
        // Byte-wide counters (a block has at most 64 of each) let the
        // compiler compare 32 bytes at a time.
        let (opens, closes) = block.iter().fold((0u8, 0u8), |(o, c), &b| {
            (
                o.wrapping_add(u8::from(b == b'{' || b == b'[')),
                c.wrapping_add(u8::from(b == b'}' || b == b']')),
            )
        });
        most = most.max(depth + i64::from(opens));
        depth = (depth + i64::from(opens) - i64::from(closes)).max(0);
    }
    usize::try_from(most).unwrap_or(usize::MAX)
}

/// The exact depth, strings (and the escapes in them) skipped.
fn exact(bytes: &[u8]) -> usize {
    let (mut depth, mut most) = (0_usize, 0_usize);
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                most = most.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_structure_not_strings() {
        let nested = |d: usize| format!("{}{}", "[".repeat(d), "]".repeat(d));
        assert!(!too_deep(&nested(MAX_DEPTH)));
        assert!(too_deep(&nested(MAX_DEPTH + 1)));
        assert!(too_deep(&format!(r#"{{"a":1,"x":{}}}"#, nested(100_000))));
        // Brackets in strings, escaped quotes included, are text.
        let policy = format!(r#"{{"policy":"{}\"{}"}}"#, "[".repeat(500), "{".repeat(500));
        assert!(!too_deep(&policy));
        // Depth is the deepest point, not the count of brackets.
        let wide = format!("[{}]", "[[]],".repeat(10_000));
        assert!(!too_deep(&wide));
        assert_eq!(exact(wide.as_bytes()), 3);
    }
}
