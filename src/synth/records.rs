//! One CloudTrail KMS record, rendered from what the generator decided about
//! it. This is the shared vocabulary of the corpus writer and of live
//! simulators: build a [`SynthEvent`], call [`kms_record`].

use chrono::{DateTime, Utc};
use rand::RngExt;
use rand::seq::IndexedRandom;
use serde::Serialize;
use serde_json::{Value, json};

use super::identities::{Identity, IdentityKind, KmsKey, UserIdentity};
use super::ops::{Op, OpClass};
use super::params;
use super::text::{SynthRng, event_time, fmt_uuid, hex, random_uuid};

/// How a record names its key; decides what the report can recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef {
    /// `resources[]` entry with `type: AWS::KMS::Key`.
    Resource,
    /// `resources[]` entry without `type` (older CloudTrail format).
    ResourceUntyped,
    /// Alias ARN and key ARN both listed (alias management calls).
    ResourceWithAlias,
    /// No `resources`; `requestParameters.keyId` is the key ARN.
    RequestArn,
    /// No `resources`; `requestParameters.keyId` is a bare id, so the ARN
    /// must be built from `awsRegion` and `recipientAccountId`.
    RequestBareId,
    /// No `resources`; only `responseElements.keyId` has the ARN.
    ResponseOnly,
    /// Denied call: `requestParameters: null`, ARN only in `errorMessage`.
    DeniedMessage,
    /// Only an alias name: the report must not invent a key.
    AliasOnly,
    /// The call names no key.
    None,
}

impl KeyRef {
    pub fn has_resources(self) -> bool {
        matches!(
            self,
            KeyRef::Resource | KeyRef::ResourceUntyped | KeyRef::ResourceWithAlias
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthOutcome {
    Success,
    /// Code satisfying the denied rule (contains `AccessDenied` or ends
    /// with `UnauthorizedOperation`).
    Denied(&'static str),
    /// Any other error code.
    Error(&'static str),
}

impl SynthOutcome {
    pub fn code(self) -> Option<&'static str> {
        match self {
            SynthOutcome::Success => None,
            SynthOutcome::Denied(c) | SynthOutcome::Error(c) => Some(c),
        }
    }
}

/// Everything that determines how the report counts one event; cosmetic
/// fields (agents, IPs, contexts) are drawn from the rng at render time.
#[derive(Debug, Clone)]
pub struct SynthEvent<'a> {
    pub time: DateTime<Utc>,
    pub event_id: u128,
    pub op: &'static Op,
    pub identity: &'a Identity,
    pub key: Option<&'a KmsKey>,
    pub key_ref: KeyRef,
    pub region: &'a str,
    pub recipient_account: &'a str,
    pub outcome: SynthOutcome,
    /// Injected into agent, session name and/or context values.
    pub hostile: Option<&'a str>,
}

impl<'a> SynthEvent<'a> {
    /// A successful call on `key` (region/recipient follow the key), the
    /// common case for simulators.
    pub fn simple(
        time: DateTime<Utc>,
        event_id: u128,
        op: &'static Op,
        identity: &'a Identity,
        key: Option<&'a KmsKey>,
        fallback_region: &'a str,
    ) -> Self {
        let (region, recipient) = match key {
            Some(k) => (k.region.as_str(), k.account.as_str()),
            None => (fallback_region, identity.account.as_str()),
        };
        Self {
            time,
            event_id,
            op,
            identity,
            key,
            key_ref: if key.is_some() {
                KeyRef::Resource
            } else {
                KeyRef::None
            },
            region,
            recipient_account: recipient,
            outcome: SynthOutcome::Success,
            hostile: None,
        }
    }

    /// The key ARN the report must attribute this event to.
    pub fn counted_key(&self) -> Option<String> {
        match self.key_ref {
            KeyRef::AliasOnly | KeyRef::None => None,
            _ => self.key.map(KmsKey::arn),
        }
    }

    pub fn principal(&self) -> String {
        self.identity.principal()
    }
}

/// Field order follows CloudTrail's, so byte-level scanners see realistic
/// layouts (e.g. `eventSource` after `userIdentity`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub event_version: &'static str,
    pub user_identity: UserIdentity,
    pub event_time: String,
    pub event_source: &'static str,
    pub event_name: String,
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub request_parameters: Value,
    pub response_elements: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<Value>,
    #[serde(rename = "requestID", skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    pub event_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub management_event: Option<bool>,
    pub recipient_account_id: String,
    #[serde(rename = "sharedEventID", skip_serializing_if = "Option::is_none")]
    pub shared_event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_event_details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_category: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_details: Option<Value>,
}

impl Record {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn caller_for_message(ev: &SynthEvent, session: &str) -> String {
    ev.identity
        .arn(session)
        .unwrap_or_else(|| ev.identity.principal())
}

fn error_message(ev: &SynthEvent, session: &str) -> Option<String> {
    let op = ev.op.name;
    let who = caller_for_message(ev, session);
    let arn = ev.key.map(KmsKey::arn);
    match (ev.outcome.code()?, arn) {
        ("AccessDenied", Some(arn)) if ev.key_ref == KeyRef::DeniedMessage => Some(format!(
            "User: {who} is not authorized to perform: kms:{op} on resource: {arn} because no resource-based policy allows the kms:{op} action"
        )),
        ("AccessDenied", _) => Some(format!(
            "User: {who} is not authorized to perform: kms:{op} because no identity-based policy allows the kms:{op} action"
        )),
        ("AccessDeniedException", _) => Some(format!(
            "User: {who} is not authorized to perform: kms:{op} on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"
        )),
        ("VpceAccessDenied", _) => {
            Some("The request was denied due to a VPC endpoint policy".into())
        }
        ("Client.UnauthorizedOperation", _) => {
            Some("You are not authorized to perform this operation.".into())
        }
        ("KMSInvalidStateException", Some(arn)) => Some(format!("{arn} is disabled.")),
        ("InvalidCiphertextException", _) => None,
        ("ThrottlingException", _) => Some(
            "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
                .into(),
        ),
        ("NotFoundException", _) => Some(format!(
            "Alias arn:aws:kms:{}:{}:alias/missing-key is not found.",
            ev.region, ev.recipient_account
        )),
        (_, _) => Some(
            "The key ID in the request does not identify a CMK that can perform this operation."
                .into(),
        ),
    }
}

fn resources(ev: &SynthEvent, rng: &mut SynthRng) -> Option<Value> {
    let key = ev.key?;
    let entry = |arn: String, typed: bool| {
        if typed {
            json!({"accountId": key.account, "type": "AWS::KMS::Key", "ARN": arn})
        } else {
            json!({"ARN": arn, "accountId": key.account})
        }
    };
    match ev.key_ref {
        KeyRef::Resource => Some(json!([entry(key.arn(), true)])),
        KeyRef::ResourceUntyped => Some(json!([entry(key.arn(), false)])),
        KeyRef::ResourceWithAlias => {
            let typed = rng.random_bool(0.5);
            let (a, k) = (entry(key.alias_arn(), typed), entry(key.arn(), typed));
            Some(if rng.random_bool(0.5) {
                json!([a, k])
            } else {
                json!([k, a])
            })
        }
        _ => None,
    }
}

/// The caller-chosen strings of a record, with a hostile event's payload
/// spliced into some of them.
struct CallerText {
    ctx: Option<Value>,
    session: String,
    user_agent: Option<String>,
}

fn caller_text(ev: &SynthEvent, rng: &mut SynthRng) -> CallerText {
    let id = ev.identity;
    let hostile = ev.hostile;
    let mut ctx = params::context(ev, rng);
    // At least one injection site per hostile event; often several.
    let site = rng.random_range(0..3u8);
    let in_context = hostile.is_some() && ctx.is_some() && (site == 2 || rng.random_bool(0.3));
    let in_session = hostile.is_some()
        && id.kind == IdentityKind::AssumedRole
        && (site == 1 || rng.random_bool(0.3));
    let in_agent =
        hostile.is_some() && (site == 0 || rng.random_bool(0.5) || !(in_context || in_session));
    if let (true, Some(h), Some(Value::Object(map))) = (in_context, hostile, ctx.as_mut())
        && let Some(v) = map.values_mut().next()
    {
        *v = Value::String(format!("{}{h}", v.as_str().unwrap_or_default()));
    }

    let mut session = id.sessions.choose(rng).cloned().unwrap_or_default();
    if let (true, Some(h)) = (in_session, hostile) {
        session = format!("{session}{h}");
    }
    let mut user_agent = id.user_agents.choose(rng).cloned();
    if let (true, Some(h)) = (in_agent, hostile) {
        user_agent = Some(format!("{}{h}", user_agent.unwrap_or_default()));
    }
    CallerText {
        ctx,
        session,
        user_agent,
    }
}

/// The VPC endpoint a call from `source_ip` in `region` came through: an
/// account has a few endpoints, each used by the same hosts day after day,
/// so the id follows from the region and the address (FNV-1a, stable
/// across platforms and Rust versions).
fn vpc_endpoint(region: &str, source_ip: &str) -> String {
    let hash = region
        .bytes()
        .chain([b'/'])
        .chain(source_ip.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("vpce-0{hash:016x}")
}

/// Renders `ev` as a CloudTrail record. The rng only chooses cosmetic fields,
/// so any rng gives a record that the report counts the same way.
pub fn kms_record(ev: &SynthEvent, rng: &mut SynthRng) -> Record {
    let id = ev.identity;
    let CallerText {
        ctx,
        session,
        user_agent,
    } = caller_text(ev, rng);
    let service_event = ev.op.class == OpClass::Service;
    let source_ip = id
        .source_ips
        .choose(rng)
        .cloned()
        .unwrap_or_else(|| "AWS Internal".into());
    let bare_request = matches!(
        ev.outcome,
        SynthOutcome::Denied("AccessDenied" | "AccessDeniedException")
    );
    let (request_parameters, response_elements) = if bare_request {
        (Value::Null, Value::Null)
    } else {
        params::request_response(ev, rng, ctx)
    };
    let service_event_details = service_event.then(|| match ev.key {
        Some(k) if ev.op.name == "RotateKey" => json!({
            "rotationType": "AUTOMATIC", "keyOrigin": "AWS_KMS",
            "previousKeyMaterialId": hex(rng, 64), "currentKeyMaterialId": hex(rng, 64), "keyId": k.id,
        }),
        Some(k) => json!({"keyId": k.id}),
        None => json!({}),
    });
    let ip_caller = source_ip.chars().next().is_some_and(|c| c.is_ascii_digit());
    let tls_details = (ip_caller && !service_event).then(|| {
        let mut t = json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("kms.{}.amazonaws.com", ev.region)});
        if rng.random_bool(0.3) {
            t["keyExchange"] = json!("X25519MLKEM768");
        }
        t
    });
    let cross_account = !id.account.is_empty() && id.account != ev.recipient_account;
    let shared = cross_account || id.name == "cloudtrail.amazonaws.com";
    let vpce = ev.outcome == SynthOutcome::Denied("VpceAccessDenied")
        || (ip_caller && source_ip.starts_with("10.") && rng.random_bool(0.5));
    let endpoint = vpc_endpoint(ev.region, &source_ip);
    let recent = rng.random_bool(0.97);
    let version = if recent {
        *["1.08", "1.09", "1.10", "1.11", "1.11"]
            .choose(rng)
            .unwrap_or(&"1.11")
    } else {
        "1.05"
    };
    Record {
        event_version: version,
        user_identity: id.user_identity(&session, ev.time, rng),
        event_time: event_time(ev.time),
        event_source: "kms.amazonaws.com",
        event_name: ev.op.name.to_string(),
        aws_region: ev.region.to_string(),
        source_ip_address: source_ip,
        user_agent: if service_event { None } else { user_agent },
        error_code: ev.outcome.code().map(str::to_string),
        error_message: error_message(ev, &session),
        request_parameters,
        response_elements,
        additional_event_data: params::additional(ev, rng),
        request_id: (!service_event).then(|| random_uuid(rng)),
        event_id: fmt_uuid(ev.event_id),
        read_only: Some(ev.op.read_only()),
        resources: if bare_request {
            None
        } else {
            resources(ev, rng)
        },
        event_type: if service_event {
            "AwsServiceEvent"
        } else {
            "AwsApiCall"
        },
        management_event: recent.then_some(true),
        recipient_account_id: ev.recipient_account.to_string(),
        shared_event_id: shared.then(|| random_uuid(rng)),
        vpc_endpoint_id: vpce.then(|| {
            // Drawn as before, so the fields after it stay where they were.
            let _ = hex(rng, 16);
            endpoint
        }),
        service_event_details,
        event_category: recent.then_some("Management"),
        tls_details,
    }
}
