//! Which principal made which key, and when: the successful `CreateKey`
//! calls the engine has seen, for rules that ask whether a call's key is
//! one its caller has just made (`key_created_by_caller_within`).

use std::collections::HashMap;

use crate::event::{KmsEvent, Outcome};

/// Keys remembered at most; past it the oldest creation is forgotten
/// (a call on that key then reads as not made by its caller).
const CAP: usize = 10_000;

/// The creator and creation time (ms) of the keys seen created.
#[derive(Debug, Default)]
pub struct CreatedKeys {
    by_key: HashMap<Box<str>, (Box<str>, i64)>,
}

impl CreatedKeys {
    /// Remembers `event` if it is a successful `CreateKey` naming its key.
    pub fn observe(&mut self, event: &KmsEvent<'_>) {
        if event.outcome != Outcome::Success || event.event_name != "CreateKey" {
            return;
        }
        let Some(key) = &event.key else { return };
        let time_ms = event.time.timestamp_millis();
        if self.by_key.len() >= CAP && !self.by_key.contains_key(key.arn.as_ref()) {
            let oldest = self
                .by_key
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.by_key.remove(&oldest);
            }
        }
        self.by_key.insert(
            key.arn.as_ref().into(),
            (event.principal.as_ref().into(), time_ms),
        );
    }

    /// Whether `event`'s key was created by `event`'s principal at most
    /// `within_ms` before it (and not after it).
    #[must_use]
    pub fn by_caller_within(&self, event: &KmsEvent<'_>, within_ms: i64) -> bool {
        let Some(key) = &event.key else { return false };
        let Some((creator, created_ms)) = self.by_key.get(key.arn.as_ref()) else {
            return false;
        };
        let age = event.time.timestamp_millis() - created_ms;
        **creator == *event.principal && (0..=within_ms).contains(&age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Parsed, parse_record};

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/2222bbbb-2222-2222-2222-222222222222";

    fn call(name: &str, user: &str, time: &str, error: Option<&str>) -> KmsEvent<'static> {
        let error = error.map_or(String::new(), |e| format!(r#","errorCode":"{e}""#));
        let text = format!(
            r#"{{"eventVersion":"1.08","eventSource":"kms.amazonaws.com","eventName":"{name}",
            "eventTime":"{time}","eventID":"e","awsRegion":"us-east-1",
            "userIdentity":{{"type":"IAMUser","accountId":"111122223333",
             "arn":"arn:aws:iam::111122223333:user/{user}"}},
            "resources":[{{"type":"AWS::KMS::Key","ARN":"{KEY}"}}],
            "recipientAccountId":"111122223333"{error}}}"#
        );
        match parse_record(&text) {
            Ok(Parsed::Kms(e)) => e.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_key_is_its_creators_for_the_span_after_its_creation() {
        let mut created = CreatedKeys::default();
        created.observe(&call("CreateKey", "deployer", "2025-05-20T10:00:00Z", None));
        created.observe(&call(
            "CreateKey",
            "mallory",
            "2025-05-20T10:01:00Z",
            Some("AccessDenied"),
        ));
        let day = 86_400_000;
        let update = |user, time| call("UpdateAlias", user, time, None);
        assert!(created.by_caller_within(&update("deployer", "2025-05-20T10:05:00Z"), day));
        assert!(created.by_caller_within(&update("deployer", "2025-05-27T10:00:00Z"), 7 * day));
        assert!(!created.by_caller_within(&update("deployer", "2025-05-27T10:00:01Z"), 7 * day));
        assert!(!created.by_caller_within(&update("deployer", "2025-05-20T09:59:59Z"), day));
        assert!(!created.by_caller_within(&update("mallory", "2025-05-20T10:05:00Z"), day));
    }
}
