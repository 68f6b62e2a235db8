//! An owned event in one allocation.
//!
//! Keeping events past the buffer they were parsed from (the alert replay,
//! the recent-event ring) with [`KmsEvent::into_owned`] costs an
//! allocation per text field, a score per event. A [`PackedEvent`] copies
//! every text into one buffer and remembers where each lies; [`view`]
//! lends a borrowed [`KmsEvent`] over it, allocating only for an
//! encryption context.
//!
//! [`view`]: PackedEvent::view

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::{KeyRef, KmsEvent, Outcome};

/// Where a text lies in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// Every text field of [`KmsEvent`], in one order: `pack` and `view`
/// both walk this list, so they cannot disagree.
const TEXTS: usize = 20;
/// Where the original record text sits in that list.
const RAW: usize = TEXTS - 1;

/// A [`KmsEvent`] owning its texts in a single buffer.
#[derive(Debug, Clone)]
pub struct PackedEvent {
    time: DateTime<Utc>,
    outcome: Outcome,
    read_only: Option<bool>,
    text: Box<str>,
    spans: [Option<Span>; TEXTS],
    context: Box<[(Span, Span)]>,
}

struct Packer {
    text: String,
}

impl Packer {
    fn put(&mut self, s: &str) -> Span {
        let start = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(s);
        Span {
            start,
            len: u32::try_from(s.len()).unwrap_or(u32::MAX),
        }
    }
}

impl PackedEvent {
    #[must_use]
    pub fn pack(e: &KmsEvent<'_>) -> Self {
        let texts: [Option<&str>; TEXTS] = [
            Some(&e.time_text),
            Some(&e.event_id),
            Some(&e.event_name),
            e.event_type.as_deref(),
            e.event_category.as_deref(),
            e.region.as_deref(),
            e.recipient_account.as_deref(),
            Some(&e.principal),
            e.principal_type.as_deref(),
            e.principal_account.as_deref(),
            e.session_name.as_deref(),
            e.source_ip.as_deref(),
            e.user_agent.as_deref(),
            e.invoked_by.as_deref(),
            e.key.as_ref().map(|k| k.arn.as_ref()),
            e.alias.as_deref(),
            e.error_code.as_deref(),
            e.error_message.as_deref(),
            e.key_policy.as_deref(),
            // Last, at `RAW`; also last in the buffer (see below).
            e.raw.as_deref(),
        ];
        let size = texts.iter().flatten().map(|t| t.len()).sum::<usize>()
            + e.encryption_context
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        let mut packer = Packer {
            text: String::with_capacity(size),
        };
        let mut spans = [None; TEXTS];
        for (span, t) in spans.iter_mut().zip(&texts[..RAW]) {
            *span = t.map(|t| packer.put(t));
        }
        let context = e
            .encryption_context
            .iter()
            .map(|(k, v)| (packer.put(k), packer.put(v)))
            .collect();
        // The record goes at the very end of the buffer, so `strip_raw`
        // only has to cut the buffer short.
        spans[RAW] = texts[RAW].map(|t| packer.put(t));
        Self {
            time: e.time,
            outcome: e.outcome,
            read_only: e.read_only,
            text: packer.text.into_boxed_str(),
            spans,
            context,
        }
    }

    /// Drops the original record text (what [`KmsEvent::raw_json`] gives),
    /// keeping every parsed field; a no-op when there is none. The record
    /// is most of an event's bytes, so a store keeps it only for the
    /// newest events and strips the rest.
    pub fn strip_raw(&mut self) {
        let Some(raw) = self.spans[RAW].take() else {
            return;
        };
        // `pack` put the record last, so every other span stays valid over
        // the prefix. Copied to a fresh block rather than shrunk in place:
        // in-place shrinking leaves record-sized holes between small
        // blocks, which cost more resident memory than the copy saves.
        let keep = self.text.get(..raw.start as usize).unwrap_or_default();
        self.text = Box::from(keep);
    }

    fn get(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.text
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    fn field(&self, index: usize) -> Option<Cow<'_, str>> {
        self.spans[index].map(|s| Cow::Borrowed(self.get(s)))
    }

    fn required(&self, index: usize) -> Cow<'_, str> {
        self.field(index).unwrap_or_default()
    }

    #[must_use]
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }

    /// The outcome without building a view: for scans that only keep
    /// denied calls.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether the original record text is still held.
    #[must_use]
    pub fn has_raw(&self) -> bool {
        self.spans[RAW].is_some()
    }

    /// The event, borrowed from this one's buffer.
    #[must_use]
    pub fn view(&self) -> KmsEvent<'_> {
        KmsEvent {
            time: self.time,
            time_text: self.required(0),
            event_id: self.required(1),
            event_name: self.required(2),
            event_type: self.field(3),
            event_category: self.field(4),
            region: self.field(5),
            recipient_account: self.field(6),
            principal: self.required(7),
            principal_type: self.field(8),
            principal_account: self.field(9),
            session_name: self.field(10),
            source_ip: self.field(11),
            user_agent: self.field(12),
            invoked_by: self.field(13),
            key: self.field(14).map(|arn| KeyRef { arn }),
            alias: self.field(15),
            outcome: self.outcome,
            error_code: self.field(16),
            error_message: self.field(17),
            read_only: self.read_only,
            encryption_context: self
                .context
                .iter()
                .map(|&(k, v)| (Cow::Borrowed(self.get(k)), Cow::Borrowed(self.get(v))))
                .collect(),
            key_policy: self.field(18),
            raw: self.field(19),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Parsed, parse_record};

    #[test]
    fn a_view_of_the_pack_is_the_event() {
        let json = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
            "eventID":"e1","awsRegion":"us-east-1","recipientAccountId":"111122223333","errorCode":"AccessDenied",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/R/s",
              "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/R"}}},
            "requestParameters":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","encryptionContext":{"a":"b\u001b","c":"d"}},
            "readOnly":true,"userAgent":"ua","sourceIPAddress":"10.0.0.1"}"#;
        let Ok(Parsed::Kms(event)) = parse_record(json) else {
            panic!("test record parses");
        };
        let packed = PackedEvent::pack(&event);
        assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
        assert_eq!(packed.time(), event.time);
    }

    #[test]
    fn stripping_the_raw_record_keeps_every_parsed_field() {
        let json = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
            "eventID":"e1","awsRegion":"us-east-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"},
            "requestParameters":{"encryptionContext":{"a":"b","c":"d"}},"userAgent":"ua"}"#;
        let Ok(Parsed::Kms(mut event)) = parse_record(json) else {
            panic!("test record parses");
        };
        let mut packed = PackedEvent::pack(&event);
        let raw_len = event.raw_json().map_or(0, str::len);
        assert!(raw_len > 0);
        let before = packed.text.len();
        packed.strip_raw();
        assert_eq!(packed.text.len(), before - raw_len);
        assert_eq!(packed.view().raw_json(), None);
        event.raw = None;
        assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
        // Twice is once.
        packed.strip_raw();
        assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
    }
}
