//! KMS's read calls over the world's keys, with the paging, key-id forms
//! and per-key failures (`AccessDeniedException`, unsupported rotation) of
//! the real service.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::events::Events;
use super::traffic::EventKind;
use super::wire::{Answer, AwsError, time_to_epoch};
use super::world::{Rotation, SimKey, World};
use crate::synth::ops::OpClass;

/// How far back `GetKeyLastUsage` looks through the generated traffic for
/// the key's last successful use before falling back to the world's date.
const LAST_USE_SCAN_S: i64 = 600;

/// An answer and the key the request named (CloudTrail records it).
pub struct KmsAnswer {
    pub answer: Answer,
    pub key: Option<usize>,
}

fn key_id_member(body: &Map<String, Value>) -> Result<&str, AwsError> {
    match body.get("KeyId") {
        None | Some(Value::Null) => Err(AwsError::validation(
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
        )),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 2048 => Ok(s),
        Some(Value::String(_)) => Err(AwsError::validation(
            "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048",
        )),
        Some(_) => Err(AwsError::serialization("KeyId must be a string")),
    }
}

fn resolve(world: &World, region: &str, key_id: &str) -> Result<usize, AwsError> {
    world.resolve_key(region, key_id).ok_or_else(|| {
        let message = if key_id.contains("alias/") {
            let arn = if key_id.starts_with("arn:") {
                key_id.to_string()
            } else {
                format!("arn:aws:kms:{region}:{}:{key_id}", world.account)
            };
            format!("Alias {arn} is not found.")
        } else {
            let arn = if key_id.starts_with("arn:") {
                key_id.to_string()
            } else {
                format!("arn:aws:kms:{region}:{}:key/{key_id}", world.account)
            };
            format!("Key '{arn}' does not exist")
        };
        AwsError::client("NotFoundException", message)
    })
}

fn limit(body: &Map<String, Value>, max: u64, default: u64) -> Result<usize, AwsError> {
    match body.get("Limit") {
        None | Some(Value::Null) => Ok(default as usize),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(n as usize),
            Some(_) | None if v.is_number() => Err(AwsError::validation(format!(
                "1 validation error detected: Value '{v}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
            ))),
            _ => Err(AwsError::serialization("Limit must be an integer")),
        },
    }
}

/// One page of `items` after `Marker`: (page, `NextMarker`).
fn page<T: Clone>(
    items: &[T],
    body: &Map<String, Value>,
    max: u64,
    default: u64,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let limit = limit(body, max, default)?;
    let start = match body.get("Marker") {
        None | Some(Value::Null) => 0,
        Some(Value::String(m)) => STANDARD
            .decode(m)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("sim:")?.parse::<usize>().ok())
            .filter(|&i| i <= items.len())
            .ok_or_else(|| AwsError::client("InvalidMarkerException", "Invalid marker"))?,
        Some(_) => return Err(AwsError::serialization("Marker must be a string")),
    };
    let end = (start + limit).min(items.len());
    let next = (end < items.len()).then(|| STANDARD.encode(format!("sim:{end}")));
    Ok((items[start..end].to_vec(), next))
}

fn paged_answer(member: &str, (items, next): (Vec<Value>, Option<String>)) -> Value {
    let mut out = json!({member: items, "Truncated": next.is_some()});
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    out
}

fn denied(world: &World, key: &SimKey, op: &str) -> AwsError {
    let who = world
        .reader
        .arn(crate::sim::cast::READER_SESSION)
        .unwrap_or_default();
    AwsError::client(
        "AccessDeniedException",
        format!(
            "User: {who} is not authorized to perform: kms:{op} on resource: {} because no resource-based policy allows the kms:{op} action",
            key.arn()
        ),
    )
}

pub fn key_metadata(world: &World, key: &SimKey) -> Value {
    let mut m = json!({
        "AWSAccountId": world.account,
        "KeyId": key.id(),
        "Arn": key.arn(),
        "CreationDate": time_to_epoch(key.created),
        "Enabled": key.state == "Enabled",
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state,
        "Origin": "AWS_KMS",
        "KeyManager": if key.aws_managed { "AWS" } else { "CUSTOMER" },
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "MultiRegion": key.multi_region,
    });
    match key.key_usage {
        "SIGN_VERIFY" => m["SigningAlgorithms"] = json!(["ECDSA_SHA_256"]),
        "GENERATE_VERIFY_MAC" => m["MacAlgorithms"] = json!(["HMAC_SHA_256"]),
        _ => m["EncryptionAlgorithms"] = json!(["SYMMETRIC_DEFAULT"]),
    }
    if let Some(d) = key.deletion_date {
        m["DeletionDate"] = time_to_epoch(d);
    }
    if let Some(w) = key.pending_window_days {
        m["PendingDeletionWindowInDays"] = json!(w);
    }
    if key.multi_region {
        let replicas: Vec<&SimKey> = world.keys.iter().filter(|k| k.id() == key.id()).collect();
        let entry = |k: &SimKey| json!({"Arn": k.arn(), "Region": k.region()});
        let primary = replicas.first().copied().unwrap_or(key);
        m["MultiRegionConfiguration"] = json!({
            "MultiRegionKeyType": if primary.region() == key.region() { "PRIMARY" } else { "REPLICA" },
            "PrimaryKey": entry(primary),
            "ReplicaKeys": replicas.iter().skip(1).map(|k| entry(k)).collect::<Vec<_>>(),
        });
    }
    m
}

fn rotation_status(key: &SimKey, now: DateTime<Utc>) -> Answer {
    let on = match key.rotation {
        Rotation::Unsupported => {
            return Err(AwsError::client(
                "UnsupportedOperationException",
                format!(
                    "{} is not a symmetric encryption KMS key with key material from KMS; automatic rotation is not supported.",
                    key.arn()
                ),
            ));
        }
        Rotation::On { period_days } if key.state != "PendingDeletion" => Some(period_days),
        _ => None,
    };
    let mut out = json!({"KeyRotationEnabled": on.is_some(), "KeyId": key.arn()});
    if let Some(days) = on {
        out["RotationPeriodInDays"] = json!(days);
        if let Some(next) = key.next_rotation(now) {
            out["NextRotationDate"] = time_to_epoch(next);
        }
    }
    Ok(out)
}

fn last_usage(events: &Events, index: usize, now: DateTime<Utc>) -> Value {
    let world = &events.traffic.world;
    let key = &world.keys[index];
    let tracking = key.created.max(world.origin - Duration::days(120));
    let mut out = json!({
        "KeyId": key.arn(),
        "TrackingStartDate": time_to_epoch(tracking),
        "KeyCreationDate": time_to_epoch(key.created),
    });
    let Some(region) = world.region_index(key.region()) else {
        return out;
    };
    let newest = now.timestamp();
    for slot in (newest - LAST_USE_SCAN_S..=newest).rev() {
        for ev in events.slot(region, slot) {
            let EventKind::Traffic(call) = &ev.kind else {
                continue;
            };
            let crypto = matches!(
                call.op.class,
                OpClass::Crypto | OpClass::Asymmetric | OpClass::Mac
            );
            if call.key == Some(index) && crypto && call.outcome.code().is_none() {
                out["KeyLastUsage"] = json!({
                    "Operation": call.op.name,
                    "Timestamp": ev.time,
                    "CloudTrailEventId": ev.id,
                });
                return out;
            }
        }
    }
    out
}

/// The grants the world's keys carry: the orders key lets its API role
/// use it (as a database service would ask for), and the retired reports
/// key still has the grant its old reader was given, which is what makes
/// its deletion unsafe.
fn grants_of(world: &World, key: &SimKey) -> Vec<Value> {
    let (grantee, operations): (&str, &[&str]) = match key.name {
        "orders" => ("orders-api", &["Decrypt", "GenerateDataKey", "DescribeKey"]),
        "old-reports" => ("legacy-reports", &["Decrypt"]),
        _ => return Vec::new(),
    };
    let grantee = format!("arn:aws:iam::{}:role/{grantee}", world.account);
    vec![json!({
        "KeyId": key.arn(),
        "GrantId": format!("{:0>64}", key.id().replace('-', "")),
        "Name": format!("{}-access", key.name),
        "CreationDate": time_to_epoch(key.created),
        "GranteePrincipal": grantee,
        "RetiringPrincipal": format!("arn:aws:iam::{}:root", world.account),
        "IssuingAccount": format!("arn:aws:iam::{}:root", world.account),
        "Operations": operations,
    })]
}

/// Answers KMS read `operation`; `None` for anything else (mutations
/// included), which the server answers as an unknown operation.
pub fn handle(
    events: &Events,
    region: &str,
    now: DateTime<Utc>,
    operation: &str,
    body: &Map<String, Value>,
) -> Option<KmsAnswer> {
    let world = &events.traffic.world;
    let answer = |answer| Some(KmsAnswer { answer, key: None });
    match operation {
        "ListKeys" => {
            let keys: Vec<Value> = world
                .keys_in(region)
                .map(|(_, k)| json!({"KeyId": k.id(), "KeyArn": k.arn()}))
                .collect();
            return answer(page(&keys, body, 1000, 100).map(|p| paged_answer("Keys", p)));
        }
        "ListAliases" => return Some(list_aliases(world, region, body)),
        "DescribeKey"
        | "GetKeyRotationStatus"
        | "ListKeyRotations"
        | "GetKeyPolicy"
        | "ListKeyPolicies"
        | "GetKeyLastUsage"
        | "ListGrants"
        | "ListResourceTags" => {}
        _ => return None,
    }
    let index = match key_id_member(body).and_then(|id| resolve(world, region, id)) {
        Ok(i) => i,
        Err(e) => return answer(Err(e)),
    };
    let key = &world.keys[index];
    let guarded = operation != "DescribeKey" && operation != "ListKeyPolicies";
    let result = if guarded && key.denies_reader {
        Err(denied(world, key, operation))
    } else {
        match operation {
            "DescribeKey" => Ok(json!({"KeyMetadata": key_metadata(world, key)})),
            "GetKeyRotationStatus" => rotation_status(key, now),
            "ListKeyRotations" => list_rotations(key, now, body),
            "GetKeyPolicy" => match body.get("PolicyName").and_then(Value::as_str) {
                None | Some("default") => {
                    Ok(json!({"Policy": key.policy, "PolicyName": "default"}))
                }
                Some(other) => Err(AwsError::client(
                    "NotFoundException",
                    format!("Policy {other} is not found."),
                )),
            },
            "ListKeyPolicies" => Ok(json!({"PolicyNames": ["default"], "Truncated": false})),
            "GetKeyLastUsage" => Ok(last_usage(events, index, now)),
            "ListGrants" => {
                page(&grants_of(world, key), body, 100, 50).map(|p| paged_answer("Grants", p))
            }
            _ => {
                let tags: Vec<Value> = key
                    .tags
                    .iter()
                    .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
                    .collect();
                page(&tags, body, 50, 50).map(|p| paged_answer("Tags", p))
            }
        }
    };
    Some(KmsAnswer {
        answer: result,
        key: Some(index),
    })
}

fn list_rotations(key: &SimKey, now: DateTime<Utc>, body: &Map<String, Value>) -> Answer {
    if key.rotation == Rotation::Unsupported {
        return Err(AwsError::client(
            "UnsupportedOperationException",
            format!("{} does not support key rotation.", key.arn()),
        ));
    }
    let rotations: Vec<Value> = key
        .rotations(now)
        .into_iter()
        .map(|at| {
            json!({"KeyId": key.id(), "RotationDate": time_to_epoch(at), "RotationType": "AUTOMATIC"})
        })
        .collect();
    page(&rotations, body, 1000, 100).map(|p| paged_answer("Rotations", p))
}

fn list_aliases(world: &World, region: &str, body: &Map<String, Value>) -> KmsAnswer {
    let target = match body.get("KeyId") {
        None | Some(Value::Null) => None,
        Some(_) => match key_id_member(body).and_then(|id| resolve(world, region, id)) {
            Ok(i) => Some(i),
            Err(e) => {
                return KmsAnswer {
                    answer: Err(e),
                    key: None,
                };
            }
        },
    };
    let aliases: Vec<Value> = world
        .aliases_in(region)
        .filter(|a| target.is_none() || a.target == target)
        .map(|a| {
            let mut v = json!({
                "AliasName": a.name,
                "AliasArn": format!("arn:aws:kms:{region}:{}:{}", world.account, a.name),
            });
            if let Some(k) = a.target {
                v["TargetKeyId"] = json!(world.keys[k].id());
                v["CreationDate"] = time_to_epoch(a.created);
                v["LastUpdatedDate"] = time_to_epoch(a.created);
            }
            v
        })
        .collect();
    KmsAnswer {
        answer: page(&aliases, body, 100, 50).map(|p| paged_answer("Aliases", p)),
        key: target,
    }
}
