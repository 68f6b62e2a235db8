//! JSON for scripts that may print it to a terminal: `serde_json` escapes
//! only C0 controls, so a string could still carry C1 controls, bidi
//! overrides and invisible characters into `jq`'s output or a log viewer.
//! These writers escape every character [`super::is_unsafe_char`] names
//! as `\uXXXX` (a surrogate pair above U+FFFF): the JSON means the same,
//! and shows it.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// A formatter that escapes unsafe characters inside strings.
struct Safe<F>(F);

fn escaped(writer: &mut (impl Write + ?Sized), fragment: &str) -> io::Result<()> {
    // Nearly every string is printable ASCII: one pass over the bytes
    // instead of decoding each character.
    if super::printable_ascii(fragment) {
        return writer.write_all(fragment.as_bytes());
    }
    let mut start = 0;
    for (i, c) in fragment.char_indices() {
        if super::is_unsafe_char(c) {
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
    }
    writer.write_all(&fragment.as_bytes()[start..])
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $name<W: ?Sized + Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.0.$name(w $(, $arg)*)
        })*
    };
}

impl<F: Formatter> Formatter for Safe<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        escaped(writer, fragment)
    }

    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }
}

/// One compact line (no newline added).
///
/// # Errors
/// The writer's, or a value that does not serialize.
pub fn to_writer<W: Write, T: Serialize + ?Sized>(writer: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, Safe(CompactFormatter));
    value.serialize(&mut ser).map_err(io::Error::from)
}

/// Indented, as `serde_json::to_writer_pretty`.
///
/// # Errors
/// The writer's, or a value that does not serialize.
pub fn to_writer_pretty<W: Write, T: Serialize + ?Sized>(writer: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, Safe(PrettyFormatter::new()));
    value.serialize(&mut ser).map_err(io::Error::from)
}

/// JSON text (a raw record) with its unsafe characters escaped: they can
/// only stand inside strings, where `\uXXXX` means the same.
#[must_use]
pub fn escape_raw(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(super::is_unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len() + 16);
    let _ = escaped(&mut out, text);
    std::borrow::Cow::Owned(String::from_utf8(out).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_are_escaped_and_mean_the_same() {
        let nasty = "a\u{9b}2J\u{202e}b\u{200b}c\u{e0041}d\u{1b}[31m";
        let mut out = Vec::new();
        to_writer(&mut out, &serde_json::json!({ "ua": nasty })).expect("writes");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            r#"{"ua":"a\u009b2J\u202eb\u200bc\udb40\udc41d\u001b[31m"}"#
        );
        let back: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back["ua"], nasty);
        let raw = format!(r#"{{"ua":"{nasty}"}}"#).replace('\u{1b}', "\\u001b");
        let escaped = escape_raw(&raw);
        assert!(!escaped.chars().any(super::super::is_unsafe_char));
        let back: serde_json::Value = serde_json::from_str(&escaped).expect("valid JSON");
        assert_eq!(back["ua"], nasty);
    }
}
