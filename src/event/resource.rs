//! What an encryption context says was encrypted or decrypted: the
//! resource behind a `Decrypt` ("who decrypted what").
//!
//! AWS services name their resource in the context they pass to KMS
//! (AWS KMS Developer Guide, "Encryption context", and each service's
//! "How … uses AWS KMS" page): S3 `aws:s3:arn`, Secrets Manager
//! `SecretARN`, `DynamoDB` `aws:dynamodb:tableName`, EBS `aws:ebs:id`,
//! Lambda `aws:lambda:FunctionArn`, Systems Manager Parameter Store
//! `PARAMETER_ARN`, CloudTrail `aws:cloudtrail:arn`, RDS `aws:rds:db-id`,
//! CloudWatch Logs `aws:logs:arn`, SQS `aws:sqs:arn`, SNS `aws:sns:topicArn`,
//! `WorkMail` `aws:workmail:arn`.

use std::borrow::Cow;

/// The longest resource name kept: longer texts are cut (they come from
/// the record, so from whoever wrote it).
pub const MAX_RESOURCE: usize = 512;

/// Context keys that name a resource, most specific first: CloudTrail
/// encrypts its log objects with both its trail and the S3 object in the
/// context, and the trail is what a responder asks about.
pub const KEYS: [(&str, &str); 12] = [
    ("SecretARN", "secretsmanager"),
    ("aws:cloudtrail:arn", "cloudtrail"),
    ("PARAMETER_ARN", "ssm"),
    ("aws:lambda:FunctionArn", "lambda"),
    ("aws:dynamodb:tableName", "dynamodb"),
    ("aws:ebs:id", "ebs"),
    ("aws:rds:db-id", "rds"),
    ("aws:logs:arn", "logs"),
    ("aws:sqs:arn", "sqs"),
    ("aws:sns:topicArn", "sns"),
    ("aws:workmail:arn", "workmail"),
    ("aws:s3:arn", "s3"),
];

/// The resource an encryption context names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource<'e> {
    /// `s3`, `secretsmanager`, …; `other` for a context no service table
    /// above knows (then `name` is its first `key=value`).
    pub service: &'static str,
    pub name: Cow<'e, str>,
    /// S3 with an S3 Bucket Key: the context names the bucket, not the
    /// object, so one data key serves many objects.
    pub bucket_key: bool,
}

fn bounded(text: &str) -> &str {
    if text.len() <= MAX_RESOURCE {
        return text;
    }
    let mut end = MAX_RESOURCE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The resource `context` names; `None` without a context.
#[must_use]
pub fn resource_of<'e>(context: &'e [(Cow<'e, str>, Cow<'e, str>)]) -> Option<Resource<'e>> {
    resource_in(context.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
}

/// [`resource_of`] over borrowed pairs, in the context's order (a held
/// event's context read in place:
/// [`crate::event::PackedEvent::context_pairs`]).
pub fn resource_in<'e>(
    mut pairs: impl Iterator<Item = (&'e str, &'e str)>,
) -> Option<Resource<'e>> {
    let (first_key, first_value) = pairs.next()?;
    // The most specific key's first pair: one pass over the context.
    let mut best = rank(first_key).map(|r| (r, first_value));
    for (key, value) in pairs {
        if let Some(r) = rank(key)
            && best.is_none_or(|(b, _)| r < b)
        {
            best = Some((r, value));
        }
    }
    let Some((r, value)) = best else {
        return Some(Resource {
            service: "other",
            name: Cow::Owned(bounded(&format!("{first_key}={first_value}")).to_owned()),
            bucket_key: false,
        });
    };
    let service = KEYS[r].1;
    let name = bounded(value);
    Some(Resource {
        service,
        name: Cow::Borrowed(name),
        bucket_key: is_bucket_key(service, name),
    })
}

/// Whether the resource `service` `name` is an S3 bucket named by a
/// Bucket Key's context: `arn:aws:s3:::bucket` is a bucket,
/// `arn:aws:s3:::bucket/key` an object.
#[must_use]
pub fn is_bucket_key(service: &str, name: &str) -> bool {
    service == "s3"
        && name
            .strip_prefix("arn:")
            .and_then(|rest| rest.splitn(5, ':').nth(4))
            .is_some_and(|resource| !resource.contains('/'))
}

/// A service's number: its place in [`KEYS`], or one past them for
/// `other` (a context no service table knows).
#[must_use]
pub fn service_number(service: &str) -> u8 {
    KEYS.iter()
        .position(|(_, s)| *s == service)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(OTHER)
}

/// The service numbered `n` by [`service_number`].
#[must_use]
pub fn service_named(n: u8) -> &'static str {
    KEYS.get(usize::from(n)).map_or("other", |(_, s)| s)
}

const OTHER: u8 = 12;

/// A context key's place in [`KEYS`] (a `match`, which compares a key
/// with the few of its length only).
fn rank(key: &str) -> Option<usize> {
    Some(match key {
        "SecretARN" => 0,
        "aws:cloudtrail:arn" => 1,
        "PARAMETER_ARN" => 2,
        "aws:lambda:FunctionArn" => 3,
        "aws:dynamodb:tableName" => 4,
        "aws:ebs:id" => 5,
        "aws:rds:db-id" => 6,
        "aws:logs:arn" => 7,
        "aws:sqs:arn" => 8,
        "aws:sns:topicArn" => 9,
        "aws:workmail:arn" => 10,
        "aws:s3:arn" => 11,
        _ => return None,
    })
}

/// Calls whose context names what was encrypted or decrypted.
pub const DATA_CALLS: [&str; 7] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncrypt",
];

/// Whether `event_name` is one of [`DATA_CALLS`].
#[must_use]
pub fn is_data_call(event_name: &str) -> bool {
    DATA_CALLS.contains(&event_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(pairs: &[(&str, &str)]) -> Option<(String, String, bool)> {
        let context: Vec<(Cow<'_, str>, Cow<'_, str>)> = pairs
            .iter()
            .map(|&(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
            .collect();
        let got = resource_of(&context)
            .map(|r| (r.service.to_owned(), r.name.into_owned(), r.bucket_key));
        // Borrowed pairs name the same resource.
        let again = resource_in(pairs.iter().copied())
            .map(|r| (r.service.to_owned(), r.name.into_owned(), r.bucket_key));
        assert_eq!(got, again);
        got
    }

    #[test]
    fn ranks_are_the_keys_order() {
        for (i, (key, _)) in KEYS.iter().enumerate() {
            assert_eq!(rank(key), Some(i), "{key}");
        }
        assert_eq!(rank("aws:s3:ARN"), None);
        for (_, service) in KEYS {
            assert_eq!(service_named(service_number(service)), service);
        }
        assert_eq!(service_named(service_number("other")), "other");
        // The most specific key wins wherever it is; the first of a key.
        assert_eq!(
            of(&[
                ("aws:s3:arn", "arn:aws:s3:::b/o"),
                ("SecretARN", "s1"),
                ("SecretARN", "s2")
            ]),
            Some(("secretsmanager".into(), "s1".into(), false))
        );
    }

    #[test]
    fn each_service_names_its_resource() {
        let cases = [
            (
                "SecretARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:db-AbC",
                "secretsmanager",
            ),
            ("aws:dynamodb:tableName", "Orders", "dynamodb"),
            ("aws:ebs:id", "vol-0123456789abcdef0", "ebs"),
            (
                "aws:lambda:FunctionArn",
                "arn:aws:lambda:us-east-1:1:function:f",
                "lambda",
            ),
            (
                "PARAMETER_ARN",
                "arn:aws:ssm:us-east-1:1:parameter/db/pw",
                "ssm",
            ),
            ("aws:rds:db-id", "db-ABCDEFGHIJKL", "rds"),
            (
                "aws:logs:arn",
                "arn:aws:logs:us-east-1:1:log-group:g",
                "logs",
            ),
            ("aws:sqs:arn", "arn:aws:sqs:us-east-1:1:q", "sqs"),
            ("aws:sns:topicArn", "arn:aws:sns:us-east-1:1:t", "sns"),
        ];
        for (key, value, service) in cases {
            assert_eq!(
                of(&[(key, value)]),
                Some((service.to_owned(), value.to_owned(), false)),
                "{key}"
            );
        }
    }

    #[test]
    fn s3_tells_an_object_from_a_bucket_key() {
        assert_eq!(
            of(&[("aws:s3:arn", "arn:aws:s3:::reports/2025/q1.csv")]),
            Some((
                "s3".into(),
                "arn:aws:s3:::reports/2025/q1.csv".into(),
                false
            ))
        );
        assert_eq!(
            of(&[("aws:s3:arn", "arn:aws:s3:::reports")]),
            Some(("s3".into(), "arn:aws:s3:::reports".into(), true))
        );
    }

    #[test]
    fn the_trail_outranks_its_log_object_and_unknown_contexts_stay_visible() {
        let trail = "arn:aws:cloudtrail:eu-central-1:1:trail/t";
        assert_eq!(
            of(&[
                ("aws:s3:arn", "arn:aws:s3:::b/AWSLogs/x.json.gz"),
                ("aws:cloudtrail:arn", trail)
            ]),
            Some(("cloudtrail".into(), trail.into(), false))
        );
        assert_eq!(
            of(&[("Department", "10"), ("Project", "x")]),
            Some(("other".into(), "Department=10".into(), false))
        );
        assert_eq!(of(&[]), None);
    }

    #[test]
    fn names_are_bounded_on_a_character_boundary() {
        let long = "é".repeat(1000);
        let (_, name, _) = of(&[("SecretARN", &long)]).expect("a resource");
        assert!(name.len() <= MAX_RESOURCE && name.chars().all(|c| c == 'é'));
    }
}
