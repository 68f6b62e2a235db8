//! The objects an SQS message says were created in a bucket, in every
//! shape such a message comes in: an S3 event notification, the same sent
//! through SNS, CloudTrail's own SNS notice (`s3ObjectKey`), and an
//! `EventBridge` "Object Created" event. Anything else (S3's `TestEvent`,
//! a stray message) names no object.

use serde_json::Value;

/// One object a message names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub bucket: String,
    pub key: String,
}

/// SNS wraps a message once; anything deeper is not a notification.
const MAX_WRAPS: usize = 2;

/// The objects `body` names (none when it is not a notification).
#[must_use]
pub fn created_objects(body: &str) -> Vec<Created> {
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        collect(&value, 0, &mut out);
    }
    out
}

fn collect(value: &Value, wraps: usize, out: &mut Vec<Created>) {
    let text = |v: &Value, path: &[&str]| -> Option<String> {
        path.iter()
            .try_fold(v, |v, k| v.get(*k))?
            .as_str()
            .map(str::to_string)
    };
    // SNS: the notification is a JSON string in `Message`.
    if let Some(inner) = value.get("Message").and_then(Value::as_str) {
        if wraps < MAX_WRAPS
            && let Ok(inner) = serde_json::from_str::<Value>(inner)
        {
            collect(&inner, wraps + 1, out);
        }
        return;
    }
    // S3 event notifications: keys are URL-encoded, with '+' for a space.
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        for record in records {
            let created =
                text(record, &["eventName"]).is_some_and(|n| n.starts_with("ObjectCreated"));
            if let (true, Some(bucket), Some(key)) = (
                created,
                text(record, &["s3", "bucket", "name"]),
                text(record, &["s3", "object", "key"]),
            ) && let Some(key) = url_decoded(&key)
            {
                out.push(Created { bucket, key });
            }
        }
        return;
    }
    // CloudTrail's notice of a delivered log file: keys as they are.
    if let (Some(bucket), Some(keys)) = (
        text(value, &["s3Bucket"]),
        value.get("s3ObjectKey").and_then(Value::as_array),
    ) {
        for key in keys.iter().filter_map(Value::as_str) {
            out.push(Created {
                bucket: bucket.clone(),
                key: key.to_string(),
            });
        }
        return;
    }
    // EventBridge's S3 "Object Created": keys as they are.
    if text(value, &["detail-type"]).as_deref() == Some("Object Created")
        && let (Some(bucket), Some(key)) = (
            text(value, &["detail", "bucket", "name"]),
            text(value, &["detail", "object", "key"]),
        )
    {
        out.push(Created { bucket, key });
    }
}

fn url_decoded(key: &str) -> Option<String> {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/12/04/111122223333_CloudTrail_eu-west-1_20261204T1005Z_abc.json.gz";

    fn created(key: &str) -> Vec<Created> {
        vec![Created {
            bucket: "trail".into(),
            key: key.into(),
        }]
    }

    #[test]
    fn reads_every_shape_of_notice() {
        let s3 = format!(
            r#"{{"Records":[{{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{{"bucket":{{"name":"trail"}},"object":{{"key":"{KEY}"}}}}}}]}}"#
        );
        assert_eq!(created_objects(&s3), created(KEY));
        let sns = serde_json::json!({"Type": "Notification", "Message": s3}).to_string();
        assert_eq!(created_objects(&sns), created(KEY));
        let cloudtrail = format!(r#"{{"s3Bucket":"trail","s3ObjectKey":["{KEY}"]}}"#);
        assert_eq!(created_objects(&cloudtrail), created(KEY));
        let bridge = format!(
            r#"{{"detail-type":"Object Created","detail":{{"bucket":{{"name":"trail"}},"object":{{"key":"{KEY}"}}}}}}"#
        );
        assert_eq!(created_objects(&bridge), created(KEY));
    }

    #[test]
    fn s3_keys_are_url_decoded_and_other_messages_name_nothing() {
        let s3 = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail"},"object":{"key":"a+b%2Fc.json.gz"}}}]}"#;
        assert_eq!(created_objects(s3), created("a b/c.json.gz"));
        let removed = r#"{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"trail"},"object":{"key":"k"}}}]}"#;
        assert!(created_objects(removed).is_empty());
        for other in [
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"trail"}"#,
            "not json",
            "[1,2]",
            &"[".repeat(10_000),
        ] {
            assert!(created_objects(other).is_empty(), "{other}");
        }
        let wrapped_too_deep = (0..5).fold(KEY.to_string(), |inner, _| {
            serde_json::json!({ "Message": inner }).to_string()
        });
        assert!(created_objects(&wrapped_too_deep).is_empty());
    }
}
