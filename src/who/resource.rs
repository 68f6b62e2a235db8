//! `resource:…`: the calls whose encryption context names a resource,
//! read exactly as [`crate::event::resource`] derives the resource of a
//! data call (the report's resources section and the dashboard's
//! Resources pane group by the same).
//!
//! A resource is selected by its id as the context holds it (a secret's
//! or function's ARN, a table name, a volume id). S3 says more: a bucket
//! (`arn:aws:s3:::reports` or `s3://reports`) selects every object in it
//! and the bucket-level context of an S3 Bucket Key; a prefix ending in
//! `/` (`s3://reports/2025/`) selects the objects under it, but not the
//! bucket-level contexts, which do not say which object a key served.

use crate::event::KmsEvent;
use crate::event::resource::{MAX_RESOURCE, Resource, is_data_call, resource_of};

/// The resource a call's context names, when it is a data call: the one
/// the report and the Resources pane count it under.
#[must_use]
pub fn resource_of_call<'e>(event: &'e KmsEvent<'_>) -> Option<Resource<'e>> {
    if !is_data_call(&event.event_name) {
        return None;
    }
    resource_of(&event.encryption_context)
}

/// Why a `resource:` value was refused, when it was.
pub(super) fn check(value: &str) -> Result<(), String> {
    if value.len() > MAX_RESOURCE {
        return Err(format!(
            "a resource name is at most {MAX_RESOURCE} bytes long (kmstop keeps no longer ones); this one is {}",
            value.len()
        ));
    }
    if let Some(s3) = wanted_s3(value)
        && s3.path.is_empty()
    {
        return Err(format!(
            "{value:?} names no bucket: write s3://BUCKET, s3://BUCKET/PREFIX/ or arn:aws:s3:::BUCKET"
        ));
    }
    Ok(())
}

/// An S3 location a selector names: the ARN's partition (none for
/// `s3://`, which stands for any) and `bucket` or `bucket/key…`.
struct S3<'a> {
    partition: Option<&'a str>,
    path: &'a str,
}

/// `arn:PARTITION:s3:::PATH`'s partition and path.
fn s3_arn(text: &str) -> Option<S3<'_>> {
    let mut parts = text.strip_prefix("arn:")?.splitn(5, ':');
    let partition = parts.next()?;
    let service = parts.next()?;
    let (region, account) = (parts.next()?, parts.next()?);
    let path = parts.next()?;
    (service == "s3" && region.is_empty() && account.is_empty()).then_some(S3 {
        partition: Some(partition),
        path,
    })
}

fn wanted_s3(value: &str) -> Option<S3<'_>> {
    let s = value
        .strip_prefix("s3://")
        .map(|path| S3 {
            partition: None,
            path,
        })
        .or_else(|| s3_arn(value))?;
    // `bucket/` is the bucket, not a prefix of it.
    let path = s
        .path
        .strip_suffix('/')
        .filter(|b| !b.contains('/'))
        .unwrap_or(s.path);
    Some(S3 { path, ..s })
}

/// True when the resource `service` `name` is what `wanted` selects.
#[must_use]
pub fn resource_is(service: &str, name: &str, wanted: &str) -> bool {
    if name == wanted {
        return true;
    }
    if service != "s3" {
        return false;
    }
    let (Some(have), Some(want)) = (s3_arn(name), wanted_s3(wanted)) else {
        return false;
    };
    if want.partition.is_some_and(|p| Some(p) != have.partition) || want.path.is_empty() {
        return false;
    }
    if want.path.ends_with('/') {
        // A prefix: the objects under it.
        return have.path.starts_with(want.path);
    }
    if want.path.contains('/') {
        // One object.
        return have.path == want.path;
    }
    // A bucket: itself (a Bucket Key's context) and every object in it.
    have.path == want.path
        || have
            .path
            .strip_prefix(want.path)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_buckets_prefixes_and_objects() {
        let object = "arn:aws:s3:::reports/2025/q1.csv";
        let bucket = "arn:aws:s3:::reports";
        for (wanted, on_object, on_bucket) in [
            ("arn:aws:s3:::reports/2025/q1.csv", true, false),
            ("s3://reports/2025/q1.csv", true, false),
            ("arn:aws:s3:::reports", true, true),
            ("arn:aws:s3:::reports/", true, true),
            ("s3://reports", true, true),
            ("s3://reports/", true, true),
            ("s3://reports/2025/", true, false),
            ("arn:aws:s3:::reports/2025/", true, false),
            ("s3://reports/2025", false, false),
            ("s3://reports/2026/", false, false),
            ("s3://report", false, false),
            ("s3://reports-old", false, false),
            ("arn:aws-cn:s3:::reports", false, false),
            ("reports", false, false),
            ("s3://", false, false),
        ] {
            assert_eq!(
                resource_is("s3", object, wanted),
                on_object,
                "{wanted} on the object"
            );
            assert_eq!(
                resource_is("s3", bucket, wanted),
                on_bucket,
                "{wanted} on the bucket"
            );
        }
        // Only S3 names are read as paths.
        assert!(!resource_is("dynamodb", "reports/x", "s3://reports"));
        assert!(resource_is("dynamodb", "Orders", "Orders"));
        assert!(!resource_is("dynamodb", "Orders", "orders"));
    }

    #[test]
    fn values_that_name_nothing_are_refused() {
        assert!(check("s3://").is_err());
        assert!(check("s3:///").is_err());
        assert!(check(&"x".repeat(MAX_RESOURCE + 1)).is_err());
        assert!(check("s3://reports/2025/").is_ok());
        assert!(check("Orders").is_ok());
    }
}
