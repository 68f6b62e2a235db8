//! An owned event in one allocation.
//!
//! Keeping events past the buffer they were parsed from (the alert replay,
//! the recent-event ring, the dashboard's event log) with
//! [`KmsEvent::into_owned`] costs an allocation per text field, a score
//! per event. A [`PackedEvent`] copies its own texts into one block,
//! refers to the texts events repeat by their number in the process's
//! [`shared`] table, and remembers where each lies; [`view`] lends a
//! borrowed [`KmsEvent`] over it, allocating only for an encryption
//! context.
//!
//! The dashboard holds hundreds of thousands of these, so the layout is
//! sparse: of the 27 text fields an event has a dozen, and each present
//! one costs a varint of one to three bytes in the block's header, not a
//! fixed slot.
//!
//! [`view`]: PackedEvent::view

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::{CallDetail, KeyRef, KmsEvent, Outcome, shared};

mod calls;
mod compact;
mod tally;

pub use tally::{HeldText, TallyFields};

/// Every text field of [`KmsEvent`], in one order: `pack` and `view`
/// both walk this list, so they cannot disagree.
const TEXTS: usize = 27;
/// Where the original record text sits in that list.
const RAW: usize = TEXTS - 1;
/// In `present`, past the texts' bits: the record is held deflated (its
/// length as a varint, then the deflate stream).
const RAW_DEFLATED: u32 = 1 << TEXTS;
/// Where the time text and the event id sit in that list.
const TIME: usize = 0;
const ID: usize = 1;
/// In `present`: the time text is not held, being the canonical rendering
/// of the parsed time (see [`compact`]); its own bit is clear.
const TIME_RENDERED: u32 = 1 << (TEXTS + 1);
/// In `present`: the event id's own text is the 16 bytes of a lowercase
/// UUID (see [`compact`]).
const ID_UUID: u32 = 1 << (TEXTS + 2);
/// The fields whose values repeat across events (names, principals,
/// session names, keys, regions, accounts, addresses, user agents, grant
/// principals, destination keys, expiration models, VPC endpoints): held
/// once in the process's [`shared`] table (a session name is the end of
/// its assumed-role principal, already shared: it adds no more texts than
/// principals do). The rest (time, id, messages, policies, expiry dates,
/// access key ids, the record) are the event's own, and so are the
/// context's values (its keys are shared): a temporary access key id
/// lives one session, so sharing them
/// would fill the process-wide table with texts seen once.
const SHAREABLE: [bool; TEXTS] = [
    false, false, true, true, true, true, true, true, true, true, true, true, true, true, true,
    true, true, false, false, true, true, true, true, false, true, false, false,
];

/// Where a present field's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    /// A [`shared`] text's number.
    Shared(u32),
    /// An own text ending here in the text area; it starts where the own
    /// text before it ends.
    Own(usize),
}

impl Code {
    fn word(self) -> u64 {
        match self {
            Code::Shared(id) => (u64::from(id) << 1) | 1,
            Code::Own(end) => (end as u64) << 1,
        }
    }

    fn of_word(word: u64) -> Self {
        let value = word >> 1;
        if word & 1 == 1 {
            Code::Shared(u32::try_from(value).unwrap_or(u32::MAX))
        } else {
            Code::Own(usize::try_from(value).unwrap_or(usize::MAX))
        }
    }
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(u8::try_from(v & 0x7f).unwrap_or(0) | 0x80);
        v >>= 7;
    }
    out.push(u8::try_from(v).unwrap_or(0));
}

/// Reads the varint at `*at`, moving past it.
fn get_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0u32;
    while let Some(&b) = bytes.get(*at) {
        *at += 1;
        v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

/// A [`KmsEvent`] owning its texts in a single buffer.
///
/// `present` has bit `i` set when text field `i` has a value. The block
/// starts with a header: the number of the encryption context's pairs,
/// one varint [`Code`] per present field before the
/// record, in field order, then for each of the encryption context's
/// pairs its key's [`Code`] and its value's end. The text area follows
/// (from `texts_at`): the own texts in field order (the id as 16 bytes
/// when it is a UUID, see [`compact`]), the context's own keys and
/// values, then the record, last, so dropping it only cuts the block
/// short.
#[derive(Debug, Clone)]
pub struct PackedEvent {
    time: DateTime<Utc>,
    outcome: Outcome,
    read_only: Option<bool>,
    bypass_lockout_check: Option<bool>,
    present: u32,
    texts_at: u32,
    block: Box<[u8]>,
}

/// The decoded header: every field's text and the context's pairs, and
/// the event id's text when it is held as a UUID (its field is `None`).
type Texts<'a> = (
    [Option<&'a str>; TEXTS],
    Vec<(&'a str, &'a str)>,
    Option<[u8; 36]>,
);

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
        // Codes first, so the block is allocated once at its size.
        let mut present = 0u32;
        let mut words: Vec<u64> = Vec::with_capacity(TEXTS + 2 * e.encryption_context.len());
        let mut own: Vec<&[u8]> = Vec::with_capacity(TEXTS + 2 * e.encryption_context.len());
        let mut end = 0usize;
        let time_rendered =
            compact::canonical_time(e.time).is_some_and(|t| t[..] == *e.time_text.as_bytes());
        let uuid = compact::uuid_bytes(&e.event_id);
        for (i, t) in texts.iter().enumerate().take(RAW) {
            let Some(t) = *t else { continue };
            if i == TIME && time_rendered {
                present |= TIME_RENDERED;
                continue;
            }
            present |= 1 << i;
            let held = match &uuid {
                Some(bytes) if i == ID => {
                    present |= ID_UUID;
                    &bytes[..]
                }
                _ => t.as_bytes(),
            };
            let code = if let Some(id) = SHAREABLE[i].then(|| shared::share(t)).flatten() {
                Code::Shared(id)
            } else {
                end += held.len();
                own.push(held);
                Code::Own(end)
            };
            words.push(code.word());
        }
        for (k, v) in &e.encryption_context {
            // The keys are a schema's few names; the values are the event's.
            let key = if let Some(id) = shared::share(k) {
                Code::Shared(id)
            } else {
                end += k.len();
                own.push(k.as_bytes());
                Code::Own(end)
            };
            words.push(key.word());
            end += v.len();
            own.push(v.as_bytes());
            words.push(end as u64);
        }
        let raw = texts[RAW];
        if raw.is_some() {
            present |= 1 << RAW;
        }
        let pairs = e.encryption_context.len() as u64;
        let header = varint_len(pairs) + words.iter().map(|&w| varint_len(w)).sum::<usize>();
        let mut block = Vec::with_capacity(header + end + raw.map_or(0, str::len));
        put_varint(&mut block, pairs);
        for w in words {
            put_varint(&mut block, w);
        }
        for t in own.into_iter().chain(raw.map(str::as_bytes)) {
            block.extend_from_slice(t);
        }
        Self {
            time: e.time,
            outcome: e.outcome,
            read_only: e.read_only,
            bypass_lockout_check: e.call.bypass_lockout_check,
            present,
            texts_at: u32::try_from(header).unwrap_or(u32::MAX),
            block: block.into_boxed_slice(),
        }
    }

    fn has(&self, i: usize) -> bool {
        self.present & (1 << i) != 0
    }

    /// The text area from `start` to `end` (relative to `texts_at`).
    fn slice(&self, start: usize, end: usize) -> &str {
        let at = self.texts_at as usize;
        self.block
            .get(at + start..at + end)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// How many pairs the encryption context has: the header's first
    /// varint (in the block, not beside it: the dashboard holds 400,000
    /// packed events, and a field here made each 8 bytes larger).
    fn pairs(&self) -> usize {
        usize::try_from(get_varint(&self.block, &mut 0)).unwrap_or(0)
    }

    /// Where the fields' codes start in the header, past the count of
    /// pairs.
    fn codes_at(&self) -> usize {
        self.block
            .iter()
            .position(|b| b & 0x80 == 0)
            .map_or(0, |i| i + 1)
    }

    /// The present fields before the record, in order, with their codes.
    fn codes(&self) -> impl Iterator<Item = (usize, Code)> + '_ {
        let mut at = self.codes_at();
        (0..RAW)
            .filter(|&i| self.has(i))
            .map(move |i| (i, Code::of_word(get_varint(&self.block, &mut at))))
    }

    /// Where the header's context ends start.
    fn context_ends(&self) -> (usize, usize) {
        let mut at = self.codes_at();
        let mut last_own = 0usize;
        for _ in (0..RAW).filter(|&i| self.has(i)) {
            if let Code::Own(end) = Code::of_word(get_varint(&self.block, &mut at)) {
                last_own = end;
            }
        }
        (at, last_own)
    }

    /// Where the texts before the record end (relative to `texts_at`):
    /// the last value's end, when there is a context.
    fn end_before_raw(&self) -> usize {
        let (mut at, mut end) = self.context_ends();
        for _ in 0..2 * self.pairs() {
            end = usize::try_from(get_varint(&self.block, &mut at)).unwrap_or(usize::MAX);
        }
        end
    }

    /// Moves the block to a fresh allocation made by the calling thread.
    /// A holder that keeps events for long (the dashboard's log) calls it
    /// on events packed by other threads: glibc gives each allocating
    /// thread its own heap, and blocks kept there between the reader's
    /// short-lived buffers hold those heaps' pages resident long after
    /// the buffers are freed.
    pub fn rehome(&mut self) {
        self.block = Box::from(&*self.block);
    }

    /// Drops the original record text (what [`KmsEvent::raw_json`] gives),
    /// keeping every parsed field; a no-op when there is none. The record
    /// is most of an event's bytes, so a store keeps it only for the
    /// newest events and strips the rest.
    pub fn strip_raw(&mut self) {
        if !self.has(RAW) {
            return;
        }
        self.present &= !((1 << RAW) | RAW_DEFLATED);
        // `pack` put the record last, so every other text stays valid over
        // the prefix. Copied to a fresh block rather than shrunk in place:
        // in-place shrinking leaves record-sized holes between small
        // blocks, which cost more resident memory than the copy saves.
        let keep = self.texts_at as usize + self.end_before_raw();
        self.block = Box::from(self.block.get(..keep).unwrap_or_default());
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
        if !self.has(i) {
            return None;
        }
        if i == RAW {
            return (self.present & RAW_DEFLATED == 0).then(|| self.raw_text());
        }
        if i == ID && self.present & ID_UUID != 0 {
            return None;
        }
        let mut start = 0usize;
        for (j, code) in self.codes() {
            match code {
                Code::Shared(id) if j == i => return shared::text_of(id),
                Code::Own(end) if j == i => return Some(self.slice(start, end)),
                Code::Own(end) => start = end,
                Code::Shared(_) => {}
            }
        }
        None
    }

    fn raw_text(&self) -> &str {
        if self.present & RAW_DEFLATED != 0 {
            return "";
        }
        std::str::from_utf8(self.raw_bytes()).unwrap_or_default()
    }

    fn raw_bytes(&self) -> &[u8] {
        let start = self.texts_at as usize + self.end_before_raw();
        self.block.get(start..).unwrap_or_default()
    }

    /// Deflates the original record in place (a record is most of an
    /// event's bytes, and CloudTrail's JSON deflates to about a fifth): a
    /// holder that keeps records for drill-down keeps more of them in the
    /// same memory, read back with [`Self::record`]. A view of a deflated
    /// event has no [`KmsEvent::raw_json`].
    pub fn deflate_raw(&mut self, compressor: &mut libdeflater::Compressor) {
        if !self.has(RAW) || self.present & RAW_DEFLATED != 0 {
            return;
        }
        let raw = self.raw_bytes();
        let mut out = vec![0; compressor.deflate_compress_bound(raw.len())];
        let Ok(n) = compressor.deflate_compress(raw, &mut out) else {
            return;
        };
        let mut deflated = Vec::with_capacity(varint_len(raw.len() as u64) + n);
        put_varint(&mut deflated, raw.len() as u64);
        deflated.extend_from_slice(out.get(..n).unwrap_or_default());
        if deflated.len() >= raw.len() {
            return;
        }
        let keep = self.block.len() - raw.len();
        let mut block = Vec::with_capacity(keep + deflated.len());
        block.extend_from_slice(self.block.get(..keep).unwrap_or_default());
        block.extend_from_slice(&deflated);
        self.block = block.into_boxed_slice();
        self.present |= RAW_DEFLATED;
    }

    /// The original record, held as it came or deflated
    /// ([`Self::deflate_raw`]); `None` when it is not held (or, deflated,
    /// no longer reads back as the text it was).
    #[must_use]
    pub fn record(&self) -> Option<Cow<'_, str>> {
        if !self.has(RAW) {
            return None;
        }
        if self.present & RAW_DEFLATED == 0 {
            return Some(Cow::Borrowed(self.raw_text()));
        }
        let bytes = self.raw_bytes();
        let mut at = 0;
        let len = usize::try_from(get_varint(bytes, &mut at)).ok()?;
        let mut out = vec![0; len];
        let n = libdeflater::Decompressor::new()
            .deflate_decompress(bytes.get(at..)?, &mut out)
            .ok()?;
        out.truncate(n);
        String::from_utf8(out).ok().map(Cow::Owned)
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
        let (at, start) = self.context_ends();
        self.pairs_from(at, start)
    }

    /// The context's pairs, their codes from `at` in the header and their
    /// own texts from `start`: each key a [`Code`], each value its end.
    fn pairs_from(&self, mut at: usize, mut start: usize) -> impl Iterator<Item = (&str, &str)> {
        (0..self.pairs()).map(move |_| {
            let key = match Code::of_word(get_varint(&self.block, &mut at)) {
                Code::Shared(id) => shared::text_of(id).unwrap_or_default(),
                Code::Own(end) => self.slice(std::mem::replace(&mut start, end), end),
            };
            let end = usize::try_from(get_varint(&self.block, &mut at)).unwrap_or(usize::MAX);
            (key, self.slice(std::mem::replace(&mut start, end), end))
        })
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
        self.has(RAW)
    }

    /// Every text field, in [`TEXTS`] order, and the context's pairs.
    fn texts(&self) -> Texts<'_> {
        let mut out = [None; TEXTS];
        let mut at = self.codes_at();
        let mut start = 0usize;
        let mut uuid = None;
        for i in (0..RAW).filter(|&i| self.has(i)) {
            out[i] = match Code::of_word(get_varint(&self.block, &mut at)) {
                Code::Shared(id) => shared::text_of(id),
                Code::Own(end) if i == ID && self.present & ID_UUID != 0 => {
                    uuid = self.uuid_at(std::mem::replace(&mut start, end), end);
                    None
                }
                Code::Own(end) => Some(self.slice(std::mem::replace(&mut start, end), end)),
            };
        }
        let context = self.pairs_from(at, start).collect();
        if self.has(RAW) && self.present & RAW_DEFLATED == 0 {
            out[RAW] = Some(self.raw_text());
        }
        (out, context, uuid)
    }

    /// The event, borrowed from this one's block (and the shared texts).
    #[must_use]
    pub fn view(&self) -> KmsEvent<'_> {
        let (t, context, uuid) = self.texts();
        let field = |i: usize| t[i].map(Cow::Borrowed);
        let required = |i: usize| Cow::Borrowed(t[i].unwrap_or_default());
        KmsEvent {
            time: self.time,
            time_text: if self.present & TIME_RENDERED == 0 {
                required(TIME)
            } else {
                Cow::Owned(compact::time_text(self.time))
            },
            event_id: match uuid {
                Some(chars) => Cow::Owned(String::from_utf8_lossy(&chars).into_owned()),
                None => required(ID),
            },
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
#[path = "packed_tests.rs"]
mod tests;
