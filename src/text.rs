//! Making attacker-controlled strings safe to show.
//!
//! Every string in a CloudTrail event can be chosen by whoever made the
//! call (user agents, session names, encryption contexts, even principal
//! names). Before any of it reaches a terminal or a spreadsheet, control
//! characters and bidirectional overrides become visible escapes, and
//! spreadsheet formulas lose their power.

pub mod json;

use std::borrow::Cow;
use std::fmt::Write;

use unicode_width::UnicodeWidthChar;

/// Characters that could move the cursor, recolour, retitle or reorder
/// what a terminal shows, or hide text from a reader: C0, DEL, C1, bidi
/// marks, embeddings, overrides and isolates, the Unicode line and
/// paragraph separators, zero-width and invisible format characters, and
/// tag characters. The one decision of what is printable, for the panes,
/// tables, CSV, stderr and JSON alike.
#[must_use]
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}'
        | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}

/// Only printable ASCII (space to `~`): nothing in it is unsafe.
fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// The string with every unsafe character shown as an escape (`\x1b`,
/// `\r`, `\u{202e}`), so that it is seen rather than obeyed.
#[must_use]
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if printable_ascii(s) || !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_char(c) && u32::from(c) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// At most `max` terminal columns, cut with `…` when longer.
#[must_use]
pub fn truncate_width(s: &str, max: usize) -> Cow<'_, str> {
    let width = |c: char| c.width().unwrap_or(0);
    if s.chars().map(width).sum::<usize>() <= max {
        return Cow::Borrowed(s);
    }
    let budget = max.saturating_sub(1);
    let (mut used, mut end) = (0, 0);
    for (i, c) in s.char_indices() {
        if used + width(c) > budget {
            break;
        }
        used += width(c);
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// Escaped and cut to `max` columns: what a table cell may show.
#[must_use]
pub fn for_terminal(s: &str, max: usize) -> String {
    truncate_width(&escape_control(s), max).into_owned()
}

/// A CSV cell: escaped, and with a leading `'` where a spreadsheet would
/// read the text as a formula (`=`, `+`, `-`, `@`).
#[must_use]
pub fn for_csv(s: &str) -> Cow<'_, str> {
    let escaped = escape_control(s);
    if escaped.starts_with(['=', '+', '-', '@']) {
        Cow::Owned(format!("'{escaped}"))
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        assert_eq!(escape_control("plain"), "plain");
        assert_eq!(escape_control("a\u{1b}[31mred"), "a\\x1b[31mred");
        assert_eq!(escape_control("\u{1b}]0;pwned\u{7}"), "\\x1b]0;pwned\\x07");
        assert_eq!(escape_control("x\r\ny\t"), "x\\r\\ny\\t");
        assert_eq!(escape_control("\u{9b}2J\u{7f}"), "\\x9b2J\\x7f");
        assert_eq!(escape_control("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape_control("\u{2066}i\u{2069}"), "\\u{2066}i\\u{2069}");
        assert!(
            !escape_control("\u{0}\u{1f}\u{85}")
                .chars()
                .any(is_unsafe_char)
        );
    }

    #[test]
    fn truncates_by_columns() {
        assert_eq!(truncate_width("abcdef", 6), "abcdef");
        assert_eq!(truncate_width("abcdefg", 6), "abcde…");
        assert_eq!(truncate_width("日本語テキスト", 6), "日本…");
        assert_eq!(truncate_width("abc", 0), "…");
    }

    #[test]
    fn neutralises_formulas() {
        assert_eq!(for_csv("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        for s in ["+1", "-2", "@SUM(A1)"] {
            assert!(for_csv(s).starts_with('\''), "{s}");
        }
        assert_eq!(for_csv("arn:aws:iam::1:user/a"), "arn:aws:iam::1:user/a");
    }
}
