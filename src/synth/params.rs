//! `requestParameters`, `responseElements`, encryption contexts and
//! `additionalEventData` per KMS call, shaped after the AWS documentation
//! samples so records have realistic content and size.

use rand::RngExt;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value, json};

use super::identities::{ContextKind, KmsKey};
use super::ops::OpClass;
use super::records::{KeyRef, SynthEvent};
use super::text::{SynthRng, alnum, hex, random_uuid};

const BUCKETS: &[&str] = &[
    "prod-data-lake-raw",
    "customer-uploads-eu",
    "analytics-exports",
];
const TABLES: &[&str] = &["orders", "sessions", "payment-methods", "audit-trail"];

/// Only symmetric data-plane calls carry an encryption context. AWS
/// services (CloudTrail, S3, `DynamoDB`, Secrets Manager, Lambda, EBS)
/// always send theirs; applications that build their own (`App`) leave it
/// out of about 8 % of their calls, a second code path that sends none.
pub fn context(ev: &SynthEvent, rng: &mut SynthRng) -> Option<Value> {
    if ev.op.class != OpClass::Crypto {
        return None;
    }
    // Drawn for every caller, so the rest of a record's cosmetic fields
    // stay where they were.
    let second_path = rng.random_bool(0.08);
    if second_path && ev.identity.context == ContextKind::App {
        return None;
    }
    let (region, acct) = (ev.region, ev.recipient_account);
    let day = ev.time.format("%Y/%m/%d");
    let v = match ev.identity.context {
        ContextKind::CloudTrail => {
            let stamp = ev.time.format("%Y%m%dT%H%MZ");
            let log_region = ["us-east-1", "eu-west-1", "ap-southeast-2", "eu-central-1"]
                .choose(rng)
                .copied()
                .unwrap_or(region);
            json!({
                "aws:cloudtrail:arn": format!("arn:aws:cloudtrail:{region}:{acct}:trail/management-events"),
                "aws:s3:arn": format!("arn:aws:s3:::aws-cloudtrail-logs-{acct}-5c1e9a3b/AWSLogs/{acct}/CloudTrail/{log_region}/{day}/{acct}_CloudTrail_{log_region}_{stamp}_{}.json.gz", alnum(rng, 16)),
            })
        }
        ContextKind::S3 => {
            let bucket = BUCKETS.choose(rng).copied().unwrap_or("bucket");
            json!({"aws:s3:arn": format!("arn:aws:s3:::{bucket}/ingest/{day}/part-{:05}-{}.snappy.parquet", rng.random_range(0..4096), random_uuid(rng))})
        }
        ContextKind::DynamoDb => json!({
            "aws:dynamodb:tableName": TABLES.choose(rng).copied().unwrap_or("t"),
            "aws:dynamodb:subscriberId": acct,
        }),
        ContextKind::Secrets => json!({
            "SecretARN": format!("arn:aws:secretsmanager:{region}:{acct}:secret:prod/api/db-credentials-{}", alnum(rng, 6)),
            "SecretVersionId": random_uuid(rng),
        }),
        ContextKind::Lambda => json!({
            "aws:lambda:FunctionArn": format!("arn:aws:lambda:{region}:{acct}:function:image-resizer"),
        }),
        ContextKind::Ebs => json!({"aws:ebs:id": format!("vol-0{}", hex(rng, 16))}),
        ContextKind::App => {
            let purpose = ["card-token", "pii-blob", "session-key"]
                .choose(rng)
                .copied();
            json!({"tenant": format!("t-{:06}", rng.random_range(0..1_000_000)), "purpose": purpose})
        }
        ContextKind::None => return None,
    };
    Some(v)
}

/// Which string `requestParameters.keyId` holds.
fn key_id_field(ev: &SynthEvent, rng: &mut SynthRng) -> Option<String> {
    let k = ev.key;
    match ev.key_ref {
        KeyRef::Resource | KeyRef::ResourceUntyped | KeyRef::ResourceWithAlias => {
            let k = k?;
            // Decrypt of symmetric ciphertext usually names no key at all.
            if ev.op.name == "Decrypt" && rng.random_bool(0.7) {
                return None;
            }
            Some(match rng.random_range(0..3u8) {
                0 => k.arn(),
                1 => k.id.clone(),
                _ => k.alias.clone(),
            })
        }
        KeyRef::RequestArn => k.map(KmsKey::arn),
        KeyRef::RequestBareId => k.map(|k| k.id.clone()),
        KeyRef::ResponseOnly | KeyRef::AliasOnly => {
            Some(k.map_or_else(|| "alias/missing-key".into(), |k| k.alias.clone()))
        }
        KeyRef::DeniedMessage | KeyRef::None => None,
    }
}

fn deletion_date(ev: &SynthEvent, days: i64) -> String {
    (ev.time + chrono::Duration::days(days))
        .format("%b %-d, %Y, %-I:%M:%S %p")
        .to_string()
}

pub fn request_response(ev: &SynthEvent, rng: &mut SynthRng, ctx: Option<Value>) -> (Value, Value) {
    let key_id = key_id_field(ev, rng);
    let mut req = Map::new();
    let resp = op_fields(ev, rng, &mut req);
    if ev.op.class == OpClass::Service {
        return (Value::Null, resp);
    }
    if let Some(c) = ctx {
        req.insert("encryptionContext".into(), c);
    }
    if let Some(k) = key_id.filter(|_| {
        !matches!(
            ev.op.name,
            "CreateAlias" | "UpdateAlias" | "DeleteAlias" | "CreateKey"
        )
    }) {
        req.insert("keyId".into(), json!(k));
    }
    let req = if req.is_empty() {
        Value::Null
    } else {
        Value::Object(req)
    };
    (req, resp)
}

/// Fills the operation's own request fields into `req` and returns its
/// `responseElements`.
fn op_fields(ev: &SynthEvent, rng: &mut SynthRng, req: &mut Map<String, Value>) -> Value {
    let arn = ev.key.map(KmsKey::arn);
    let mut resp = Value::Null;
    let mut put = |k: &str, v: Value| {
        req.insert(k.to_string(), v);
    };
    match ev.op.name {
        "Decrypt" | "Encrypt" => put("encryptionAlgorithm", json!("SYMMETRIC_DEFAULT")),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => put("keySpec", json!("AES_256")),
        "GenerateDataKeyPair" => put("keyPairSpec", json!("RSA_2048")),
        "Sign" | "Verify" => {
            put("messageType", json!("DIGEST"));
            put("signingAlgorithm", json!("ECDSA_SHA_256"));
        }
        "GenerateMac" | "VerifyMac" => put("macAlgorithm", json!("HMAC_SHA_256")),
        "GenerateRandom" => put("numberOfBytes", json!(32)),
        "GetKeyPolicy" => put("policyName", json!("default")),
        "CreateGrant" => resp = create_grant(ev, rng, &mut put),
        "RetireGrant" | "RevokeGrant" => put("grantId", json!(hex(rng, 64))),
        "ScheduleKeyDeletion" => {
            let days = rng.random_range(7..=30i64);
            put("pendingWindowInDays", json!(days));
            resp = json!({"keyId": arn, "keyState": "PendingDeletion",
                "deletionDate": deletion_date(ev, days), "pendingWindowInDays": days});
        }
        "CancelKeyDeletion" | "DeleteKey" => resp = json!({"keyId": arn}),
        "EnableKeyRotation" => put("rotationPeriodInDays", json!(365)),
        "PutKeyPolicy" => {
            put("policyName", json!("default"));
            put("bypassPolicyLockoutSafetyCheck", json!(false));
            put("policy", json!(default_policy(ev)));
        }
        "CreateAlias" | "UpdateAlias" | "DeleteAlias" => {
            if let Some(k) = ev.key {
                put("aliasName", json!(k.alias));
                if ev.op.name != "DeleteAlias" {
                    put("targetKeyId", json!(k.id));
                }
            }
        }
        "TagResource" => put(
            "tags",
            json!([{"tagKey": "cost-center", "tagValue": format!("cc-{}", rng.random_range(100..999))}]),
        ),
        "UntagResource" => put("tagKeys", json!(["cost-center"])),
        "UpdateKeyDescription" => put("description", json!("rotated by platform team")),
        "CreateKey" => resp = create_key(ev, &mut put),
        _ => {}
    }
    resp
}

fn create_grant(ev: &SynthEvent, rng: &mut SynthRng, put: &mut impl FnMut(&str, Value)) -> Value {
    put(
        "granteePrincipal",
        json!(format!("ec2.{}.amazonaws.com", ev.region)),
    );
    put(
        "retiringPrincipal",
        json!(format!("ec2.{}.amazonaws.com", ev.region)),
    );
    put(
        "operations",
        json!([
            "Decrypt",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "CreateGrant",
            "DescribeKey"
        ]),
    );
    put(
        "constraints",
        json!({"encryptionContextSubset": {"aws:ebs:id": format!("vol-0{}", hex(rng, 16))}}),
    );
    json!({"grantId": hex(rng, 64)})
}

/// The policy document as the JSON string `PutKeyPolicy` carries.
fn default_policy(ev: &SynthEvent) -> String {
    let policy = json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", ev.recipient_account)},
        "Action": "kms:*", "Resource": "*"}]});
    serde_json::to_string_pretty(&policy).unwrap_or_default()
}

fn create_key(ev: &SynthEvent, put: &mut impl FnMut(&str, Value)) -> Value {
    put("keyUsage", json!("ENCRYPT_DECRYPT"));
    put("keySpec", json!("SYMMETRIC_DEFAULT"));
    put("origin", json!("AWS_KMS"));
    put(
        "multiRegion",
        json!(ev.key.is_some_and(|k| k.id.starts_with("mrk-"))),
    );
    put("description", json!("created by terraform"));
    let Some(k) = ev.key else {
        return Value::Null;
    };
    json!({"keyMetadata": {"aWSAccountId": k.account, "keyId": k.id, "arn": k.arn(),
        "creationDate": deletion_date(ev, 0), "enabled": true, "keyUsage": "ENCRYPT_DECRYPT",
        "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER",
        "keySpec": "SYMMETRIC_DEFAULT", "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"]}})
}

pub fn additional(ev: &SynthEvent, rng: &mut SynthRng) -> Option<Value> {
    match ev.op.name {
        "Decrypt" | "GenerateDataKey" | "Encrypt" if rng.random_bool(0.15) => {
            Some(json!({"keyMaterialId": hex(rng, 64)}))
        }
        "CreateGrant" => Some(json!({"grantId": hex(rng, 64)})),
        _ => None,
    }
}
