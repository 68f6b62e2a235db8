//! An owned event in one allocation.
//!
//! Keeping events past the buffer they were parsed from (the alert replay,
//! the recent-event ring) with [`KmsEvent::into_owned`] costs an
//! allocation per text field, a score per event. A [`PackedEvent`] copies
//! its own texts into one buffer, refers to the texts events repeat by
//! their number in the process's [`shared`] table, and remembers where
//! each lies; [`view`] lends a borrowed [`KmsEvent`] over it, allocating
//! only for an encryption context.
//!
//! [`view`]: PackedEvent::view

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::{CallDetail, KeyRef, KmsEvent, Outcome, shared};

/// Every text field of [`KmsEvent`], in one order: `pack` and `view`
/// both walk this list, so they cannot disagree.
const TEXTS: usize = 27;
/// Where the original record text sits in that list.
const RAW: usize = TEXTS - 1;
/// The fields whose values repeat across events (names, principals, keys,
/// regions, accounts, addresses, user agents, grant principals,
/// destination keys, expiration models, VPC endpoints): held once in the
/// process's [`shared`] table. The rest (time, id, session, messages,
/// policies, expiry dates, access key ids, the record) are the event's
/// own: a temporary access key id lives one session, so sharing them
/// would fill the process-wide table with texts seen once.
const SHAREABLE: [bool; TEXTS] = [
    false, false, true, true, true, true, true, true, true, true, false, true, true, true, true,
    true, true, false, false, true, true, true, true, false, true, false, false,
];
/// A field's code with this bit set is a [`shared`] text's number.
const SHARED: u32 = 1 << 31;

/// A [`KmsEvent`] owning its texts in a single buffer.
///
/// Each text field has a code: 0 for none, a [`shared`] number with the
/// [`SHARED`] bit, or else one more than where the field's text ends in
/// `block` (it starts where the text before it ends). The block holds the
/// fields in order, then the encryption context's keys and values (their
/// ends in `context`), then the record, last, so dropping it only cuts
/// the block short.
#[derive(Debug, Clone)]
pub struct PackedEvent {
    time: DateTime<Utc>,
    outcome: Outcome,
    read_only: Option<bool>,
    bypass_lockout_check: Option<bool>,
    codes: [u32; TEXTS],
    block: Box<str>,
    context: Box<[u32]>,
}

/// Ends are u32: a record is far below 2 GiB (records are bounded in size
/// long before this), so the saturation never happens on real data.
fn end_of(text: &str) -> u32 {
    u32::try_from(text.len())
        .unwrap_or(SHARED - 2)
        .min(SHARED - 2)
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
            e.call.grantee.as_deref(),
            e.call.retiring.as_deref(),
            e.call.destination_key.as_deref(),
            e.call.expiration_model.as_deref(),
            e.call.valid_to.as_deref(),
            e.call.vpc_endpoint.as_deref(),
            e.access_key_id.as_deref(),
            // Last, at `RAW`; also last in the block.
            e.raw.as_deref(),
        ];
        let mut codes = [0u32; TEXTS];
        for (i, t) in texts.iter().enumerate() {
            if SHAREABLE[i]
                && let Some(id) = t.and_then(shared::share)
            {
                codes[i] = SHARED | id;
            }
        }
        let mut own = texts;
        for (t, &code) in own.iter_mut().zip(&codes) {
            if code != 0 {
                *t = None;
            }
        }
        let size = own.iter().flatten().map(|t| t.len()).sum::<usize>()
            + e.encryption_context
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        let mut block = String::with_capacity(size);
        let mut put = |text: &str| {
            block.push_str(text);
            end_of(&block)
        };
        for (code, t) in codes.iter_mut().zip(&own).take(RAW) {
            if let Some(t) = t {
                *code = put(t) + 1;
            }
        }
        let context = e
            .encryption_context
            .iter()
            .flat_map(|(k, v)| [put(k), put(v)])
            .collect();
        if let Some(raw) = own[RAW] {
            codes[RAW] = put(raw) + 1;
        }
        Self {
            time: e.time,
            outcome: e.outcome,
            read_only: e.read_only,
            bypass_lockout_check: e.call.bypass_lockout_check,
            codes,
            block: block.into_boxed_str(),
            context,
        }
    }

    /// Drops the original record text (what [`KmsEvent::raw_json`] gives),
    /// keeping every parsed field; a no-op when there is none. The record
    /// is most of an event's bytes, so a store keeps it only for the
    /// newest events and strips the rest.
    pub fn strip_raw(&mut self) {
        if self.codes[RAW] == 0 {
            return;
        }
        self.codes[RAW] = 0;
        // `pack` put the record last, so every other text stays valid over
        // the prefix. Copied to a fresh block rather than shrunk in place:
        // in-place shrinking leaves record-sized holes between small
        // blocks, which cost more resident memory than the copy saves.
        let keep = self.block.get(..self.end_before_raw()).unwrap_or_default();
        self.block = Box::from(keep);
    }

    /// Where the texts before the record end.
    fn end_before_raw(&self) -> usize {
        self.context.last().copied().map_or_else(
            || {
                self.codes[..RAW]
                    .iter()
                    .rev()
                    .find(|&&c| c != 0 && c & SHARED == 0)
                    .map_or(0, |&c| c as usize - 1)
            },
            |end| end as usize,
        )
    }

    fn slice(&self, start: usize, end: usize) -> &str {
        self.block.get(start..end).unwrap_or_default()
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

    /// One text field without building a view: for scans over many held
    /// events that test one field (a drill-down's key or principal).
    fn text(&self, i: usize) -> Option<&str> {
        let code = self.codes[i];
        match code {
            0 => None,
            c if c & SHARED != 0 => shared::text_of(c & !SHARED),
            c => {
                // An own text starts where the own text before it ends.
                let start = self.codes[..i]
                    .iter()
                    .rev()
                    .find(|&&c| c != 0 && c & SHARED == 0)
                    .map_or(0, |&c| c as usize - 1);
                Some(self.slice(start, c as usize - 1))
            }
        }
    }

    /// The key's ARN, as [`Self::view`] would give it.
    #[must_use]
    pub fn key_arn(&self) -> Option<&str> {
        self.text(14)
    }

    /// The event name, as [`Self::view`] would give it.
    #[must_use]
    pub fn event_name(&self) -> &str {
        self.text(2).unwrap_or_default()
    }

    /// The encryption context's pairs, as [`Self::view`] would give them,
    /// read in place: a scan over many held events that only needs the
    /// context builds no view.
    pub fn context_pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        // The context follows the last own text before the record.
        let mut at = self.codes[..RAW]
            .iter()
            .rev()
            .find(|&&c| c != 0 && c & SHARED == 0)
            .map_or(0, |&c| c as usize - 1);
        self.context.chunks_exact(2).map(move |pair| {
            let (key_end, value_end) = (pair[0] as usize, pair[1] as usize);
            let key = self.slice(at, key_end);
            let value = self.slice(key_end, value_end);
            at = value_end;
            (key, value)
        })
    }

    /// The event id, as [`Self::view`] would give it.
    #[must_use]
    pub fn event_id(&self) -> &str {
        self.text(1).unwrap_or_default()
    }

    /// The caller's session name, as [`Self::view`] would give it.
    #[must_use]
    pub fn session_name(&self) -> Option<&str> {
        self.text(10)
    }

    /// The caller's address, as [`Self::view`] would give it.
    #[must_use]
    pub fn source_ip(&self) -> Option<&str> {
        self.text(11)
    }

    /// The access key id that signed the call, as [`Self::view`] would
    /// give it.
    #[must_use]
    pub fn access_key_id(&self) -> Option<&str> {
        self.text(25)
    }

    /// The principal, as [`Self::view`] would give it.
    #[must_use]
    pub fn principal(&self) -> &str {
        self.text(7).unwrap_or_default()
    }

    /// Whether the original record text is still held.
    #[must_use]
    pub fn has_raw(&self) -> bool {
        self.codes[RAW] != 0
    }

    /// Every text field, in [`TEXTS`] order, and the context's pairs.
    fn texts(&self) -> ([Option<&str>; TEXTS], Vec<(&str, &str)>) {
        let mut out = [None; TEXTS];
        let mut at = 0usize;
        let mut own = |code: u32| {
            let end = code as usize - 1;
            let text = self.slice(at, end);
            at = end;
            text
        };
        for (text, &code) in out.iter_mut().zip(&self.codes).take(RAW) {
            *text = match code {
                0 => None,
                c if c & SHARED != 0 => shared::text_of(c & !SHARED),
                c => Some(own(c)),
            };
        }
        let mut context = Vec::with_capacity(self.context.len() / 2);
        for pair in self.context.chunks_exact(2) {
            let key = own(pair[0] + 1);
            let value = own(pair[1] + 1);
            context.push((key, value));
        }
        if self.codes[RAW] != 0 {
            out[RAW] = Some(own(self.codes[RAW]));
        }
        (out, context)
    }

    /// The event, borrowed from this one's block (and the shared texts).
    #[must_use]
    pub fn view(&self) -> KmsEvent<'_> {
        let (t, context) = self.texts();
        let field = |i: usize| t[i].map(Cow::Borrowed);
        let required = |i: usize| Cow::Borrowed(t[i].unwrap_or_default());
        KmsEvent {
            time: self.time,
            time_text: required(0),
            event_id: required(1),
            event_name: required(2),
            event_type: field(3),
            event_category: field(4),
            region: field(5),
            recipient_account: field(6),
            principal: required(7),
            principal_type: field(8),
            principal_account: field(9),
            session_name: field(10),
            access_key_id: field(25),
            source_ip: field(11),
            user_agent: field(12),
            invoked_by: field(13),
            key: field(14).map(|arn| KeyRef { arn }),
            alias: field(15),
            outcome: self.outcome,
            error_code: field(16),
            error_message: field(17),
            read_only: self.read_only,
            encryption_context: context
                .into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
                .collect(),
            key_policy: field(18),
            call: CallDetail {
                grantee: field(19),
                retiring: field(20),
                destination_key: field(21),
                bypass_lockout_check: self.bypass_lockout_check,
                expiration_model: field(22),
                valid_to: field(23),
                vpc_endpoint: field(24),
            },
            raw: field(RAW),
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
        // The one-field reads agree with the view.
        let view = packed.view();
        assert_eq!(packed.event_id(), view.event_id);
        assert_eq!(packed.principal(), view.principal);
        assert_eq!(packed.session_name(), view.session_name.as_deref());
        assert_eq!(packed.source_ip(), view.source_ip.as_deref());
        assert_eq!(packed.key_arn(), view.key.as_ref().map(|k| k.arn.as_ref()));
        assert_eq!(packed.event_name(), view.event_name);
        let pairs: Vec<(&str, &str)> = view
            .encryption_context
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        assert_eq!(packed.context_pairs().collect::<Vec<_>>(), pairs);
        assert_eq!(pairs, [("a", "b\u{1b}"), ("c", "d")]);
    }

    /// An access key id is the event's own text: a process-wide table
    /// of texts seen once (one temporary key per session) would only grow.
    #[test]
    fn an_access_key_id_is_held_by_its_event() {
        let json = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
            "userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAUNSHAREDEXAMPLE1"}}"#;
        let Ok(Parsed::Kms(event)) = parse_record(json) else {
            panic!("test record parses");
        };
        let packed = PackedEvent::pack(&event);
        assert_eq!(packed.codes[25] & SHARED, 0, "not a shared text");
        assert!(packed.block.contains("ASIAUNSHAREDEXAMPLE1"));
        assert_eq!(packed.access_key_id(), Some("ASIAUNSHAREDEXAMPLE1"));
        assert_eq!(
            packed.view().access_key_id.as_deref(),
            Some("ASIAUNSHAREDEXAMPLE1")
        );
    }

    #[test]
    fn the_call_details_survive_the_pack_and_a_strip() {
        let json = r#"{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventTime":"2025-01-01T00:00:00Z",
            "vpcEndpointId":"vpce-1234abcdf5678c90a",
            "requestParameters":{"granteePrincipal":"arn:aws:iam::444455556666:role/x","retiringPrincipal":"ec2.amazonaws.com",
              "destinationKeyId":"alias/other","bypassPolicyLockoutSafetyCheck":true,
              "expirationModel":"KEY_MATERIAL_EXPIRES","validTo":"Jan 1, 2021 8:00:00 PM"}}"#;
        let Ok(Parsed::Kms(event)) = parse_record(json) else {
            panic!("test record parses");
        };
        let call = &event.call;
        assert_eq!(
            call.grantee.as_deref(),
            Some("arn:aws:iam::444455556666:role/x")
        );
        assert_eq!(call.retiring.as_deref(), Some("ec2.amazonaws.com"));
        assert_eq!(call.destination_key.as_deref(), Some("alias/other"));
        assert_eq!(call.bypass_lockout_check, Some(true));
        assert_eq!(
            call.expiration_model.as_deref(),
            Some("KEY_MATERIAL_EXPIRES")
        );
        assert_eq!(call.valid_to.as_deref(), Some("Jan 1, 2021 8:00:00 PM"));
        assert_eq!(call.vpc_endpoint.as_deref(), Some("vpce-1234abcdf5678c90a"));
        let mut packed = PackedEvent::pack(&event);
        assert_eq!(packed.view().call, event.call);
        assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
        packed.strip_raw();
        assert_eq!(packed.view().call, event.call);
    }

    #[test]
    fn one_field_reads_as_the_view_reads_it() {
        for json in [
            r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
            "eventID":"e1","awsRegion":"us-east-1","recipientAccountId":"111122223333","errorMessage":"m",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/R/s",
              "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/R"}}},
            "requestParameters":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}}"#,
            r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z"}"#,
        ] {
            let Ok(Parsed::Kms(event)) = parse_record(json) else {
                panic!("parses")
            };
            let packed = PackedEvent::pack(&event);
            let v = packed.view();
            assert_eq!(packed.key_arn(), v.key.as_ref().map(|k| k.arn.as_ref()));
            assert_eq!(packed.principal(), v.principal);
        }
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
        let before = packed.block.len();
        packed.strip_raw();
        assert_eq!(packed.block.len(), before - raw_len);
        assert_eq!(packed.view().raw_json(), None);
        event.raw = None;
        assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
        // Twice is once.
        packed.strip_raw();
        assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
    }
}
