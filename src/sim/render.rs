//! Events as CloudTrail records, built with the corpus generator's record
//! builder so the simulator and the test corpora speak one vocabulary, plus
//! the few fields LookupEvents lifts out of each record.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::synth::ops::{self, Op, OpClass};
use crate::synth::records::{KeyRef, Record, SynthEvent, SynthOutcome, kms_record};
use crate::synth::text::{SynthRng, derived_rng};

use super::traffic::{Call, SimEvent, Traffic};
use super::wire::AwsError;
use super::world::World;

/// A record and what LookupEvents shows of it beside the JSON.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub json: String,
    pub event_name: String,
    /// kmstop's principal for the record (role ARN, user ARN, service).
    pub principal: String,
    pub read_only: bool,
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    /// `(ResourceType, ResourceName)` pairs.
    pub resources: Vec<(String, String)>,
    pub error_code: Option<String>,
}

const PURPOSE_RENDER: u64 = 0x5157_0200;

fn lifted(rec: &Record, principal: String) -> Rendered {
    let ui = &rec.user_identity;
    // LookupEvents' Username: the IAM user name, else the role session.
    let username = ui.user_name.clone().or_else(|| {
        ui.arn
            .as_deref()
            .filter(|a| a.contains(":assumed-role/"))
            .and_then(|a| a.rsplit('/').next())
            .map(str::to_string)
    });
    let resources = match &rec.resources {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|r| {
                let name = r.get("ARN")?.as_str()?;
                let kind = if name.contains(":alias/") {
                    "AWS::KMS::Alias"
                } else {
                    "AWS::KMS::Key"
                };
                Some((kind.to_string(), name.to_string()))
            })
            .collect(),
        _ => Vec::new(),
    };
    Rendered {
        json: rec.to_json(),
        event_name: rec.event_name.clone(),
        principal,
        read_only: rec.read_only.unwrap_or(true),
        username,
        access_key_id: ui.access_key_id.clone(),
        resources,
        error_code: rec.error_code.clone(),
    }
}

/// Renders one generated call. The same event always renders to the same
/// bytes: the cosmetic draws come from the call's own seed.
pub fn render_call(traffic: &Traffic, region: usize, ev: &SimEvent, call: &Call) -> Rendered {
    let w = &traffic.world;
    let p = &w.principals[call.principal];
    let key = call.key.map(|k| &w.keys[k]);
    let kev = SynthEvent {
        time: ev.event_time(),
        event_id: u128::from_str_radix(&ev.id.replace('-', ""), 16).unwrap_or_default(),
        op: call.op,
        identity: &p.identity,
        key: key.map(|k| &k.key),
        key_ref: call.key_ref,
        region: &w.regions[region],
        recipient_account: &w.account,
        outcome: call.outcome,
        hostile: None,
    };
    let mut rng = derived_rng(traffic.seed, PURPOSE_RENDER, call.render_seed);
    let mut rec = kms_record(&kev, &mut rng);
    if let (SynthOutcome::Error("KMSInvalidStateException"), Some(k)) = (call.outcome, key) {
        let why = if k.state == "PendingDeletion" {
            "pending deletion"
        } else {
            "disabled"
        };
        rec.error_message = Some(format!("{} is {why}.", k.arn()));
    }
    // The admin's policy change puts the world's policy on the key.
    if call.op.name == "PutKeyPolicy"
        && let (Some(k), Value::Object(params)) = (key, &mut rec.request_parameters)
    {
        params.insert("policy".into(), Value::String(k.policy.clone()));
    }
    lifted(&rec, p.identity.principal())
}

static LIST_KEY_ROTATIONS: Op = Op {
    name: "ListKeyRotations",
    class: OpClass::Meta,
    weight: 0.0,
};
static GET_KEY_LAST_USAGE: Op = Op {
    name: "GetKeyLastUsage",
    class: OpClass::Meta,
    weight: 0.0,
};

fn op_named(name: &str) -> Option<&'static Op> {
    ops::find(name).or(match name {
        "ListKeyRotations" => Some(&LIST_KEY_ROTATIONS),
        "GetKeyLastUsage" => Some(&GET_KEY_LAST_USAGE),
        _ => None,
    })
}

/// `requestParameters` as CloudTrail writes them: the request's members
/// with lower-case initials; `null` when there are none.
fn request_parameters(params: &Map<String, Value>) -> Value {
    if params.is_empty() {
        return Value::Null;
    }
    let lower = |k: &str| {
        let mut c = k.chars();
        c.next()
            .map(|f| f.to_lowercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    Value::Object(params.iter().map(|(k, v)| (lower(k), v.clone())).collect())
}

/// What the simulator knows about a KMS call it served.
pub struct Served<'a> {
    pub region: &'a str,
    pub time: DateTime<Utc>,
    pub event_id: u128,
    pub operation: &'a str,
    pub key: Option<usize>,
    pub params: &'a Map<String, Value>,
    pub error: Option<&'a AwsError>,
    pub user_agent: Option<&'a str>,
    pub source_ip: &'a str,
}

/// Records a served KMS call as CloudTrail would: the reader's identity,
/// the request's own user agent and parameters, its error if any.
pub fn render_own(world: &World, served: &Served<'_>, rng: &mut SynthRng) -> Option<Rendered> {
    let op = op_named(served.operation)?;
    let key = served.key.map(|k| &world.keys[k]);
    let outcome = match served.error {
        None => SynthOutcome::Success,
        Some(e) if e.code.contains("AccessDenied") => SynthOutcome::Denied(e.code),
        Some(e) => SynthOutcome::Error(e.code),
    };
    let kev = SynthEvent {
        time: served.time,
        event_id: served.event_id,
        op,
        identity: &world.reader,
        key: key.map(|k| &k.key),
        key_ref: if key.is_some() {
            KeyRef::Resource
        } else {
            KeyRef::None
        },
        region: served.region,
        recipient_account: &world.account,
        outcome,
        hostile: None,
    };
    let mut rec = kms_record(&kev, rng);
    rec.user_agent = served.user_agent.map(str::to_string);
    rec.source_ip_address = served.source_ip.to_string();
    rec.request_parameters = request_parameters(served.params);
    rec.response_elements = Value::Null;
    rec.additional_event_data = None;
    rec.error_message = served.error.map(|e| e.message.clone());
    rec.tls_details = None;
    rec.vpc_endpoint_id = None;
    rec.shared_event_id = None;
    if served
        .error
        .is_some_and(|e| e.code.contains("AccessDenied"))
    {
        // KMS still names the key it refused in resources.
        rec.resources = key.map(|k| {
            serde_json::json!([{"accountId": world.account, "type": "AWS::KMS::Key", "ARN": k.arn()}])
        });
    }
    Some(lifted(&rec, world.reader.principal()))
}
