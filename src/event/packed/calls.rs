//! [`CallFields`] read in place from a held event: one pass over the
//! header's codes up to the last field it needs, no view, no context, no
//! record text (a view of each of 300,000 held events, record and all,
//! was most of what a count over them cost).

use super::{Code, PackedEvent, get_varint, shared};
use crate::event::CallFields;

/// The [`super::TEXTS`] indices [`CallFields`] reads, the last one last.
const NAME: usize = 2;
const REGION: usize = 5;
const RECIPIENT: usize = 6;
const PRINCIPAL: usize = 7;
const PRINCIPAL_ACCOUNT: usize = 9;
const KEY: usize = 14;
const ERROR_CODE: usize = 16;
/// Those indices as bits.
const WANTED: u32 = 1 << NAME
    | 1 << REGION
    | 1 << RECIPIENT
    | 1 << PRINCIPAL
    | 1 << PRINCIPAL_ACCOUNT
    | 1 << KEY
    | 1 << ERROR_CODE;

impl PackedEvent {
    /// The caller, region, key, time and error code, as [`Self::view`]
    /// would give them.
    #[must_use]
    pub fn call_fields(&self) -> CallFields<'_> {
        let mut t: [Option<&str>; ERROR_CODE + 1] = [None; ERROR_CODE + 1];
        let mut at = self.codes_at();
        let mut start = 0usize;
        for i in (0..=ERROR_CODE).filter(|&i| self.has(i)) {
            let code = Code::of_word(get_varint(&self.block, &mut at));
            // Only the fields read are looked up or checked as UTF-8 (the
            // time, id and session before them were most of the work).
            let wanted = WANTED & (1 << i) != 0;
            t[i] = match code {
                Code::Shared(id) if wanted => shared::text_of(id),
                Code::Own(end) if wanted => {
                    Some(self.slice(std::mem::replace(&mut start, end), end))
                }
                Code::Own(end) => {
                    start = end;
                    None
                }
                Code::Shared(_) => None,
            };
        }
        CallFields {
            time: self.time,
            event_name: t[NAME].unwrap_or_default(),
            region: t[REGION],
            recipient_account: t[RECIPIENT],
            principal: t[PRINCIPAL].unwrap_or_default(),
            principal_account: t[PRINCIPAL_ACCOUNT],
            key_arn: t[KEY],
            error_code: t[ERROR_CODE],
        }
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
    fn read_in_place_they_are_the_events() {
        let full = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:05Z",
            "eventID":"e1","awsRegion":"eu-west-3","recipientAccountId":"111122223333","errorCode":"ThrottlingException",
            "userIdentity":{"type":"AssumedRole","accountId":"444455556666","arn":"arn:aws:sts::444455556666:assumed-role/R/s",
              "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::444455556666:role/R"}}},
            "resources":[{"ARN":"arn:aws:kms:eu-west-3:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}],
            "requestParameters":{"encryptionContext":{"a":"b"}}}"#;
        let bare = r#"{"eventSource":"kms.amazonaws.com","eventName":"ListKeys","eventTime":"2025-01-01T00:00:00Z",
            "eventID":"e2","userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"}}"#;
        for json in [full, bare] {
            let (event, mut packed) = packed(json);
            assert_eq!(packed.call_fields(), event.call_fields());
            packed.strip_raw();
            assert_eq!(packed.call_fields(), event.call_fields());
        }
        let (event, packed) = packed(full);
        let f = packed.call_fields();
        assert_eq!(f.error_code, Some("ThrottlingException"));
        assert_eq!(f.principal_account, Some("444455556666"));
        assert_eq!(f.region, Some("eu-west-3"));
        assert_eq!(f.key_account(), Some("111122223333"));
        assert_eq!(
            f.key_account(),
            event.key.as_ref().and_then(crate::event::KeyRef::account)
        );
    }
}
