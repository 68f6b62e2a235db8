//! What the store counts an event by, read in place from a held event
//! with each text's number in the process's [`shared`] table: the store
//! turns a number into its interned id through a plain vector, where the
//! text would cost a hash of an ARN and a comparison.

use super::{Code, ID, ID_UUID, PackedEvent, TIME, TIME_RENDERED, compact, get_varint, shared};
use crate::event::EventIdentity;

const NAME: usize = 2;
const REGION: usize = 5;
const PRINCIPAL: usize = 7;
const SOURCE_IP: usize = 11;
const KEY: usize = 14;
/// Those indices as bits; the last one is [`KEY`].
const WANTED: u32 =
    1 << TIME | 1 << ID | 1 << NAME | 1 << REGION | 1 << PRINCIPAL | 1 << SOURCE_IP | 1 << KEY;

/// One text field of a held event: its text and, when the process's
/// shared table holds it, its number there (one number per text for the
/// life of the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeldText<'e> {
    pub text: &'e str,
    pub shared: Option<u32>,
}

/// The fields the store counts an event by, as [`PackedEvent::view`]
/// would give them.
#[derive(Debug, Clone, Copy, Default)]
pub struct TallyFields<'e> {
    time_text: &'e str,
    event_id: &'e str,
    /// The time text when the event holds it as its parsed time.
    rendered_time: Option<[u8; 20]>,
    /// The event id when the event holds it as a UUID's 16 bytes.
    uuid: Option<[u8; 36]>,
    pub event_name: HeldText<'e>,
    pub region: Option<HeldText<'e>>,
    pub principal: HeldText<'e>,
    pub source_ip: Option<HeldText<'e>>,
    pub key: Option<HeldText<'e>>,
}

impl TallyFields<'_> {
    /// The event's identity, as [`crate::event::KmsEvent::identity`]
    /// gives it, when the event has an id; `None` for one without (its
    /// identity then also names the caller's address, user agent and
    /// error code, which are not read here).
    #[must_use]
    pub fn identity(&self) -> Option<EventIdentity<'_>> {
        fn text<'a>(held: Option<&'a [u8]>, own: &'a str) -> &'a str {
            held.map_or(own, |b| std::str::from_utf8(b).unwrap_or_default())
        }
        let event_id = text(self.uuid.as_ref().map(|b| &b[..]), self.event_id);
        let event_time = text(self.rendered_time.as_ref().map(|b| &b[..]), self.time_text);
        (!event_id.trim().is_empty()).then_some(EventIdentity {
            event_id,
            event_time,
            event_name: self.event_name.text,
            without_id: None,
        })
    }
}

impl PackedEvent {
    /// The time and id texts, event name, region, principal, source IP
    /// and key, with their shared numbers: one pass over the header's
    /// codes up to the key, no view, no context.
    #[must_use]
    pub fn tally_fields(&self) -> TallyFields<'_> {
        let mut t: [Option<HeldText<'_>>; KEY + 1] = [None; KEY + 1];
        let mut at = self.codes_at();
        let mut start = 0usize;
        let mut uuid = None;
        for i in (0..=KEY).filter(|&i| self.has(i)) {
            let code = Code::of_word(get_varint(&self.block, &mut at));
            let wanted = WANTED & (1 << i) != 0;
            t[i] = match code {
                Code::Own(end) if i == ID && self.present & ID_UUID != 0 => {
                    uuid = self.uuid_at(std::mem::replace(&mut start, end), end);
                    None
                }
                Code::Shared(id) if wanted => shared::text_of(id).map(|text| HeldText {
                    text,
                    shared: Some(id),
                }),
                Code::Own(end) if wanted => Some(HeldText {
                    text: self.slice(std::mem::replace(&mut start, end), end),
                    shared: None,
                }),
                Code::Own(end) => {
                    start = end;
                    None
                }
                Code::Shared(_) => None,
            };
        }
        let text = |i: usize| t[i].map(|h| h.text).unwrap_or_default();
        TallyFields {
            time_text: text(TIME),
            event_id: text(ID),
            rendered_time: (self.present & TIME_RENDERED != 0)
                .then(|| compact::canonical_time(self.time))
                .flatten(),
            uuid,
            event_name: t[NAME].unwrap_or_default(),
            region: t[REGION],
            principal: t[PRINCIPAL].unwrap_or_default(),
            source_ip: t[SOURCE_IP],
            key: t[KEY],
        }
    }

    /// How many encryption-context pairs the event has.
    #[must_use]
    pub fn context_len(&self) -> usize {
        self.pairs()
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{PackedEvent, Parsed, parse_record};

    fn packed(json: &str) -> (crate::event::KmsEvent<'_>, PackedEvent) {
        let Ok(Parsed::Kms(event)) = parse_record(json) else {
            panic!("test record parses");
        };
        let packed = PackedEvent::pack(&event);
        (*event, packed)
    }

    #[test]
    fn read_in_place_they_are_the_views_fields() {
        let full = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:05Z",
            "eventID":"e1","awsRegion":"eu-west-3","sourceIPAddress":"198.51.100.7",
            "userIdentity":{"type":"AssumedRole","accountId":"444455556666","arn":"arn:aws:sts::444455556666:assumed-role/R/s",
              "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::444455556666:role/R"}}},
            "requestParameters":{"encryptionContext":{"a":"b","c":"d"}},
            "resources":[{"ARN":"arn:aws:kms:eu-west-3:111122223333:key/k1","type":"AWS::KMS::Key"}]}"#;
        let bare = r#"{"eventSource":"kms.amazonaws.com","eventName":"ListKeys","eventTime":"2025-01-01T00:00:05Z",
            "eventID":"  ","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"}}"#;
        // The id held as a UUID's bytes, the time as the parsed time;
        // and odd forms of both held as they came.
        let uuid = full.replace(r#""e1""#, r#""0b5a2c1e-7f3d-4e2a-9c1b-5d6e7f8a9b0c""#);
        let odd = full
            .replace(r#""e1""#, r#""0B5A2C1E-7F3D-4E2A-9C1B-5D6E7F8A9B0C""#)
            .replace("00:00:05Z", "00:00:05.250Z");
        for json in [full, bare, &uuid, &odd] {
            let (event, packed) = packed(json);
            let f = packed.tally_fields();
            assert_eq!(f.event_name.text, event.event_name);
            assert_eq!(f.principal.text, event.principal);
            assert_eq!(f.region.map(|h| h.text), event.region.as_deref());
            assert_eq!(f.source_ip.map(|h| h.text), event.source_ip.as_deref());
            assert_eq!(
                f.key.map(|h| h.text),
                event.key.as_ref().map(|k| k.arn.as_ref())
            );
            for h in [Some(f.event_name), Some(f.principal), f.region, f.key]
                .into_iter()
                .flatten()
            {
                let number = h.shared.expect("shareable and short: shared");
                assert_eq!(crate::event::shared::text_of(number), Some(h.text));
            }
            assert_eq!(packed.context_len(), event.encryption_context.len());
            let whole = event.identity();
            match f.identity() {
                Some(id) => assert_eq!(id, whole),
                None => assert!(whole.without_id.is_some()),
            }
        }
        assert!(packed(full).1.tally_fields().identity().is_some());
        assert!(packed(bare).1.tally_fields().identity().is_none());
    }
}
