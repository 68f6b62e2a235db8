//! The shapes CloudTrail records arrive in: a log file's `{"Records":[…]}`,
//! a bare record, a JSON array of records, JSON lines, several documents
//! one after another (`zcat *.gz`), and `LookupEvents` output whose
//! `CloudTrailEvent` is the record as a JSON string.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::event::{MaybeObj, Record};

/// One record found in a container, as JSON text.
#[derive(Debug)]
pub enum Item<'a> {
    /// Borrowed straight from the input text.
    Record(&'a str),
    /// Unescaped from a `LookupEvents` `CloudTrailEvent` string.
    Embedded(String),
}

impl Item<'_> {
    #[must_use]
    pub fn raw(&self) -> &str {
        match self {
            Item::Record(r) => r,
            Item::Embedded(r) => r,
        }
    }
}

/// Everything found in one input.
#[derive(Debug, Default)]
pub struct Contents<'a> {
    pub items: Vec<Item<'a>>,
    /// CloudTrail digest documents (integrity manifests, no records).
    pub digests: u64,
    /// Pieces that were not records, with where they were: kept going past.
    pub malformed: Vec<String>,
}

/// What the top level of a JSON document may hold. Only the container keys
/// are read; a bare record reads as none of them.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow, default)]
    records: Option<Vec<&'a RawValue>>,
    #[serde(rename = "Events", borrow, default)]
    events: Option<Vec<&'a RawValue>>,
    #[serde(rename = "digestStartTime", borrow, default)]
    digest_start: Option<&'a RawValue>,
    #[serde(rename = "digestPublicKeyFingerprint", borrow, default)]
    digest_key: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct LookupEvent {
    #[serde(rename = "CloudTrailEvent", default)]
    cloudtrail_event: Option<String>,
}

/// Reads every record in `text`.
///
/// # Errors
/// Text that is not JSON, or a document that stops part-way (a truncated
/// file): the message gives line and column. JSON lines are the exception:
/// there a bad line is counted as malformed and the rest is read.
pub fn read_container(text: &str) -> Result<Contents<'_>, String> {
    if let Some(contents) = read_log_file(text) {
        return Ok(contents);
    }
    let mut contents = Contents::default();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    for (index, doc) in stream.enumerate() {
        match doc {
            Ok(doc) => add_document(doc, &mut contents, &format!("document {}", index + 1)),
            Err(_) if is_json_lines(text) => return Ok(read_lines(text)),
            Err(e) => return Err(describe(&e)),
        }
    }
    Ok(contents)
}

/// The common case, one `{"Records":[…]}` document, split into records by
/// sonic-rs's SIMD skipping. `None` for any other shape (or broken JSON):
/// the general reader below then takes over and explains errors.
fn read_log_file(text: &str) -> Option<Contents<'_>> {
    #[derive(Deserialize)]
    struct LogFile<'a> {
        #[serde(rename = "Records", borrow)]
        records: Vec<sonic_rs::LazyValue<'a>>,
    }
    // sonic-rs recurses without limit when it skips a value: a text that
    // nests too deep is read by the general reader, record by record.
    if !text.trim_start().starts_with('{') || crate::event::too_deep(text) {
        return None;
    }
    let file: LogFile<'_> = sonic_rs::from_str(text).ok()?;
    let items = file
        .records
        .iter()
        .map(|r| match r.as_raw_cow() {
            std::borrow::Cow::Borrowed(raw) => Some(Item::Record(raw)),
            std::borrow::Cow::Owned(_) => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Contents {
        items,
        ..Contents::default()
    })
}

/// The common case read in one pass, when the records' text is not wanted:
/// each element of `Records` is parsed in place and handed to `each` as it
/// is read (`None` for an element that is not an object), so no record is
/// held or moved. False when the text is not one such document, or breaks
/// off: the caller then discards what it was handed and reads again with
/// [`read_container`], which explains the error.
pub fn for_each_log_record<'a, F>(text: &'a str, each: F) -> bool
where
    F: FnMut(Option<Record<'a>>),
{
    if !text.trim_start().starts_with('{') || crate::event::too_deep(text) {
        return false;
    }
    let mut de = sonic_rs::Deserializer::from_str(text);
    let found = serde::Deserializer::deserialize_map(&mut de, LogFileVisitor(each));
    matches!(found, Ok(true)) && de.end().is_ok()
}

/// Visits the top level of a log file, streaming `Records` to a callback.
struct LogFileVisitor<F>(F);

impl<'de, F: FnMut(Option<Record<'de>>)> Visitor<'de> for LogFileVisitor<F> {
    /// Whether a `Records` array was found.
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log file")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<&str>()? {
            if key == "Records" && !found {
                found = true;
                map.next_value_seed(RecordsSeed(&mut self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

struct RecordsSeed<'f, F>(&'f mut F);

impl<'de, F: FnMut(Option<Record<'de>>)> DeserializeSeed<'de> for RecordsSeed<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Option<Record<'de>>)> Visitor<'de> for RecordsSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<MaybeObj<Record<'de>>>()? {
            (self.0)(record.0);
        }
        Ok(())
    }
}

/// JSON lines: at least two lines, the first of which is a whole document.
fn is_json_lines(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next();
    lines.next().is_some() && first.is_some_and(|l| serde_json::from_str::<&RawValue>(l).is_ok())
}

fn read_lines(text: &str) -> Contents<'_> {
    let mut contents = Contents::default();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("line {}", number + 1);
        match serde_json::from_str::<&RawValue>(line) {
            Ok(doc) => add_document(doc, &mut contents, &place),
            Err(e) => contents.malformed.push(format!("{place}: {e}")),
        }
    }
    contents
}

fn add_document<'a>(doc: &'a RawValue, contents: &mut Contents<'a>, place: &str) {
    let text = doc.get();
    if text.starts_with('[') {
        match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(elements) => {
                for element in elements {
                    add_object(element, contents, place);
                }
            }
            Err(e) => contents.malformed.push(format!("{place}: {e}")),
        }
    } else {
        add_object(doc, contents, place);
    }
}

fn add_object<'a>(doc: &'a RawValue, contents: &mut Contents<'a>, place: &str) {
    if !doc.get().starts_with('{') {
        contents.malformed.push(format!(
            "{place}: expected a JSON object, found {}",
            preview(doc.get())
        ));
        return;
    }
    let envelope = match serde_json::from_str::<Envelope<'_>>(doc.get()) {
        Ok(envelope) => envelope,
        Err(e) => {
            contents.malformed.push(format!("{place}: {e}"));
            return;
        }
    };
    if let Some(records) = envelope.records {
        contents
            .items
            .extend(records.into_iter().map(|r| Item::Record(r.get())));
    } else if let Some(events) = envelope.events {
        for (n, event) in events.into_iter().enumerate() {
            add_lookup_event(event, contents, &format!("{place}, Events[{n}]"));
        }
    } else if envelope.digest_start.is_some() || envelope.digest_key.is_some() {
        contents.digests += 1;
    } else {
        contents.items.push(Item::Record(doc.get()));
    }
}

fn add_lookup_event(event: &RawValue, contents: &mut Contents<'_>, place: &str) {
    let embedded = serde_json::from_str::<LookupEvent>(event.get())
        .map_err(|e| e.to_string())
        .and_then(|e| {
            e.cloudtrail_event
                .ok_or_else(|| "no CloudTrailEvent".to_owned())
        });
    match embedded {
        Ok(raw) => contents.items.push(Item::Embedded(raw)),
        Err(e) => contents.malformed.push(format!("{place}: {e}")),
    }
}

fn describe(e: &serde_json::Error) -> String {
    if e.is_eof() {
        format!(
            "JSON ends early (truncated?) at line {} column {}",
            e.line(),
            e.column()
        )
    } else {
        format!("not valid JSON: {e}")
    }
}

fn preview(text: &str) -> String {
    let short: String = text.chars().take(20).collect();
    format!("{short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> (usize, u64, usize) {
        let c = read_container(text).expect("readable");
        (c.items.len(), c.digests, c.malformed.len())
    }

    #[test]
    fn every_container_shape() {
        let rec = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt"}"#;
        assert_eq!(names(&format!(r#"{{"Records":[{rec},{rec}]}}"#)), (2, 0, 0));
        assert_eq!(
            names(&format!("{{\n\t\"Records\": [\n\t\t{rec}\n\t]\n}}\n")),
            (1, 0, 0)
        );
        assert_eq!(names(rec), (1, 0, 0));
        assert_eq!(names(&format!("[{rec},{rec},{rec}]")), (3, 0, 0));
        assert_eq!(names(&format!("{rec}\n{rec}\n\n{rec}")), (3, 0, 0));
        assert_eq!(
            names(&format!(r#"{{"Records":[{rec}]}}{{"Records":[{rec}]}}"#)),
            (2, 0, 0)
        );
        let embedded = serde_json::to_string(rec).expect("string");
        assert_eq!(
            names(&format!(
                r#"{{"Events":[{{"EventId":"x","CloudTrailEvent":{embedded}}}],"NextToken":"t"}}"#
            )),
            (1, 0, 0)
        );
        assert_eq!(
            names(r#"{"awsAccountId":"1","digestStartTime":"2025-01-01T00:00:00Z","logFiles":[]}"#),
            (0, 1, 0)
        );
    }

    #[test]
    fn a_bad_json_line_is_malformed_not_fatal() {
        let rec = r#"{"eventSource":"kms.amazonaws.com"}"#;
        let text = format!("{rec}\n{{oops\n{rec}\n");
        let c = read_container(&text).expect("lines");
        assert_eq!(c.items.len(), 2);
        assert_eq!(c.malformed.len(), 1);
        assert!(c.malformed[0].starts_with("line 2:"), "{:?}", c.malformed);
    }

    #[test]
    fn truncated_document_is_an_error_with_position() {
        let err = read_container("{\"Records\":[{\"a\":1},").expect_err("truncated");
        assert!(err.contains("truncated") && err.contains("line 1"), "{err}");
        let err = read_container("{ nope").expect_err("garbage");
        assert!(err.contains("not valid JSON"), "{err}");
    }
}
