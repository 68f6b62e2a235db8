//! The simulated account's KMS keys and aliases, seeded and fixed for the
//! life of a simulator (it implements no call that changes them).
//!
//! Every region has the same cast of keys, each with a job in kmstop's
//! story: rotation on (one with a 180-day period) and off, a disabled key,
//! one pending deletion that a role still calls, an asymmetric signing key
//! and an HMAC key (rotation unsupported), a multi-Region key, one whose
//! policy is open to `"Principal":"*"`, one the reader may not inspect, and
//! AWS-managed keys with their `alias/aws/*` names.

use chrono::{DateTime, Duration, Utc};
use rand::{RngExt, SeedableRng};
use serde_json::json;

use crate::synth::identities::KeyUsage;
use crate::synth::text::{SynthRng, derived_rng, fmt_uuid, hex, new_uuid};
use crate::synth::{Identity, KmsKey};

use super::cast::{self, Principal};

/// Whether automatic rotation applies to a key, as `GetKeyRotationStatus`
/// would answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Asymmetric and HMAC keys: `UnsupportedOperationException`.
    Unsupported,
    Off,
    On {
        period_days: u32,
    },
}

#[derive(Debug, Clone)]
pub struct SimKey {
    /// Region, account, id, primary alias and usage, in the form the
    /// record builder takes.
    pub key: KmsKey,
    /// The role this key plays in the world (`orders`, `old-reports`, …).
    pub name: &'static str,
    pub description: String,
    pub aws_managed: bool,
    pub key_spec: &'static str,
    pub key_usage: &'static str,
    pub state: &'static str,
    pub created: DateTime<Utc>,
    pub deletion_date: Option<DateTime<Utc>>,
    pub pending_window_days: Option<u32>,
    pub rotation: Rotation,
    pub multi_region: bool,
    pub policy: String,
    pub tags: Vec<(String, String)>,
    /// The reader's requests for policy, rotation, tags and usage of this
    /// key are refused (`AccessDeniedException`).
    pub denies_reader: bool,
}

impl SimKey {
    pub fn arn(&self) -> String {
        self.key.arn()
    }

    pub fn id(&self) -> &str {
        &self.key.id
    }

    pub fn region(&self) -> &str {
        &self.key.region
    }

    pub fn is_symmetric(&self) -> bool {
        self.key.usage == KeyUsage::Symmetric
    }

    /// Past automatic rotations, oldest first, up to `now`.
    pub fn rotations(&self, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let Rotation::On { period_days } = self.rotation else {
            return Vec::new();
        };
        let period = Duration::days(i64::from(period_days));
        let mut out = Vec::new();
        let mut at = self.created + period;
        while at <= now && out.len() < 100 {
            out.push(at);
            at += period;
        }
        out
    }

    pub fn next_rotation(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Rotation::On { period_days } = self.rotation else {
            return None;
        };
        let last = self.rotations(now).last().copied().unwrap_or(self.created);
        Some(last + Duration::days(i64::from(period_days)))
    }
}

#[derive(Debug, Clone)]
pub struct SimAlias {
    pub region: String,
    /// `alias/orders`, `alias/aws/s3`, …
    pub name: String,
    /// Index into [`World::keys`]; AWS creates some `alias/aws/*` names
    /// before the service first uses them, without a target.
    pub target: Option<usize>,
    pub created: DateTime<Utc>,
}

/// How the account's one trail treats KMS events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrailSetup {
    /// The trail drops `kms.amazonaws.com` (`ExcludeManagementEventSources`).
    pub excludes_kms: bool,
    /// The trail uses advanced event selectors instead of basic ones.
    pub advanced_selectors: bool,
}

#[derive(Debug)]
pub struct World {
    pub account: String,
    pub regions: Vec<String>,
    /// When the simulator started (whole seconds): scenario times count
    /// from here.
    pub origin: DateTime<Utc>,
    pub keys: Vec<SimKey>,
    pub aliases: Vec<SimAlias>,
    pub principals: Vec<Principal>,
    /// Who the caller is (STS), and in whose name the simulator records
    /// the KMS calls it serves.
    pub reader: Identity,
    pub trail: TrailSetup,
}

/// One customer key of the cast, per region.
struct Cast {
    name: &'static str,
    description: &'static str,
    usage: KeyUsage,
    spec: &'static str,
    state: &'static str,
    rotation: Rotation,
    public_policy: bool,
    denies_reader: bool,
}

const fn cast_key(name: &'static str, description: &'static str, rotation: Rotation) -> Cast {
    Cast {
        name,
        description,
        usage: KeyUsage::Symmetric,
        spec: "SYMMETRIC_DEFAULT",
        state: "Enabled",
        rotation,
        public_policy: false,
        denies_reader: false,
    }
}

const YEARLY: Rotation = Rotation::On { period_days: 365 };

fn customer_cast() -> Vec<Cast> {
    vec![
        cast_key("orders", "Orders table and order exports", YEARLY),
        cast_key(
            "payments",
            "Payment tokens (PCI)",
            Rotation::On { period_days: 180 },
        ),
        cast_key("app-data", "Application data in S3", Rotation::Off),
        cast_key("cloudtrail-logs", "CloudTrail log files", YEARLY),
        cast_key("shared-mrk", "Multi-Region key for replicated data", YEARLY),
        Cast {
            state: "Disabled",
            ..cast_key("legacy-batch", "Old batch jobs (disabled)", Rotation::Off)
        },
        Cast {
            state: "PendingDeletion",
            ..cast_key("old-reports", "Reports archive, retired", Rotation::Off)
        },
        Cast {
            usage: KeyUsage::Sign,
            spec: "ECC_NIST_P256",
            ..cast_key(
                "release-signing",
                "Signs release artifacts",
                Rotation::Unsupported,
            )
        },
        Cast {
            usage: KeyUsage::Hmac,
            spec: "HMAC_256",
            ..cast_key("api-tokens", "Session token MACs", Rotation::Unsupported)
        },
        Cast {
            public_policy: true,
            ..cast_key("partner-share", "Shared with partners", Rotation::Off)
        },
        Cast {
            denies_reader: true,
            ..cast_key("hr-payroll", "HR payroll exports", YEARLY)
        },
    ]
}

/// AWS-managed keys: (service, description).
const AWS_MANAGED: &[(&str, &str)] = &[
    (
        "s3",
        "Default key that protects my S3 objects when no other key is defined",
    ),
    (
        "secretsmanager",
        "Default key that protects my Secrets Manager data when no other key is defined",
    ),
    (
        "dynamodb",
        "Default key that protects my DynamoDB data when no other key is defined",
    ),
    (
        "ebs",
        "Default key that protects my EBS volumes when no other key is defined",
    ),
];

/// `alias/aws/*` names that exist before their service made a key.
const AWS_ALIASES_WITHOUT_KEY: &[&str] = &["lambda", "rds"];

/// Purposes for derived generators, so the world's draws never overlap
/// the traffic's.
const PURPOSE_WORLD: u64 = 0x5157_0001;

fn policy_text(account: &str, key_name: &str, public: bool, aws_managed: bool) -> String {
    let root = format!("arn:aws:iam::{account}:root");
    let mut statements = vec![json!({
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"})];
    if aws_managed {
        statements = vec![json!({
            "Sid": "Allow access through the service for all principals in the account that are authorized",
            "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": account,
                "kms:ViaService": format!("{key_name}.amazonaws.com")}}})];
    }
    if public {
        statements.push(json!({
            "Sid": "Allow partners", "Effect": "Allow", "Principal": "*",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"], "Resource": "*"}));
    }
    serde_json::to_string_pretty(&json!({
        "Version": "2012-10-17", "Id": "key-policy-1", "Statement": statements}))
    .unwrap_or_default()
}

impl World {
    /// Builds the world of `seed`: the same seed, account, regions and
    /// origin give the same keys, ids and dates.
    pub fn build(
        seed: u64,
        account: &str,
        regions: &[String],
        origin: DateTime<Utc>,
        trail: TrailSetup,
        denied_keys: bool,
    ) -> Self {
        let mut rng = derived_rng(seed, PURPOSE_WORLD, 0);
        // A multi-Region key has one id in every region.
        let mrk = format!("mrk-{}", hex(&mut rng, 32));
        let mut keys = Vec::new();
        let mut aliases = Vec::new();
        for region in regions {
            for c in customer_cast() {
                let id = if c.name == "shared-mrk" {
                    mrk.clone()
                } else {
                    fmt_uuid(new_uuid(&mut rng))
                };
                let created = origin - Duration::days(rng.random_range(30..1500));
                let pending = c.state == "PendingDeletion";
                let deletion_date = pending.then(|| {
                    (origin + Duration::days(6) + Duration::minutes(rng.random_range(0..600)))
                        .with_nanosecond_zero()
                });
                let mut tags = vec![
                    ("team".to_string(), team_of(c.name).to_string()),
                    ("env".to_string(), "prod".to_string()),
                ];
                if rng.random_bool(0.5) {
                    tags.push((
                        "cost-center".into(),
                        format!("cc-{}", rng.random_range(100..999)),
                    ));
                }
                keys.push(SimKey {
                    key: KmsKey {
                        account: account.to_string(),
                        region: region.clone(),
                        id,
                        alias: format!("alias/{}", c.name),
                        usage: c.usage,
                        bare_only: false,
                    },
                    name: c.name,
                    description: c.description.to_string(),
                    aws_managed: false,
                    key_spec: c.spec,
                    key_usage: match c.usage {
                        KeyUsage::Symmetric => "ENCRYPT_DECRYPT",
                        KeyUsage::Sign => "SIGN_VERIFY",
                        KeyUsage::Hmac => "GENERATE_VERIFY_MAC",
                    },
                    state: c.state,
                    created,
                    deletion_date,
                    pending_window_days: pending.then_some(7),
                    rotation: c.rotation,
                    multi_region: c.name == "shared-mrk",
                    policy: policy_text(account, c.name, c.public_policy, false),
                    tags,
                    denies_reader: c.denies_reader && denied_keys,
                });
                aliases.push(SimAlias {
                    region: region.clone(),
                    name: format!("alias/{}", c.name),
                    target: Some(keys.len() - 1),
                    created: created + Duration::minutes(1),
                });
            }
            aws_managed(&mut rng, account, region, origin, &mut keys, &mut aliases);
            for service in AWS_ALIASES_WITHOUT_KEY {
                aliases.push(SimAlias {
                    region: region.clone(),
                    name: format!("alias/aws/{service}"),
                    target: None,
                    created: origin - Duration::days(rng.random_range(400..2000)),
                });
            }
        }
        let mut cast_rng = SynthRng::seed_from_u64(seed ^ 0xca57);
        let principals = cast::principals(account, &mut cast_rng);
        let reader = cast::reader(account, &mut cast_rng);
        Self {
            account: account.to_string(),
            regions: regions.to_vec(),
            origin,
            keys,
            aliases,
            principals,
            reader,
            trail,
        }
    }

    pub fn region_index(&self, region: &str) -> Option<usize> {
        self.regions.iter().position(|r| r == region)
    }

    /// The key playing role `name` in `region`.
    pub fn key_named(&self, region: &str, name: &str) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.region() == region && k.name == name)
    }

    /// Keys of one region, in `ListKeys` order.
    pub fn keys_in<'a>(&'a self, region: &'a str) -> impl Iterator<Item = (usize, &'a SimKey)> {
        self.keys
            .iter()
            .enumerate()
            .filter(move |(_, k)| k.region() == region)
    }

    pub fn aliases_in<'a>(&'a self, region: &'a str) -> impl Iterator<Item = &'a SimAlias> {
        self.aliases.iter().filter(move |a| a.region == region)
    }

    /// Resolves a `KeyId` as KMS does: key id, key ARN, alias name or alias
    /// ARN, in the region asked. `None` when no such key is there.
    pub fn resolve_key(&self, region: &str, key_id: &str) -> Option<usize> {
        let arn_prefix = format!("arn:aws:kms:{region}:{}:", self.account);
        let local = if key_id.starts_with("arn:") {
            key_id.strip_prefix(&arn_prefix)?
        } else {
            key_id
        };
        if let Some(id) = local.strip_prefix("key/") {
            return self
                .keys_in(region)
                .find(|(_, k)| k.id() == id)
                .map(|(i, _)| i);
        }
        if local.starts_with("alias/") {
            return self
                .aliases_in(region)
                .find(|a| a.name == local)
                .and_then(|a| a.target);
        }
        self.keys_in(region)
            .find(|(_, k)| k.id() == local)
            .map(|(i, _)| i)
    }

    /// Alias names pointing at key `index`.
    pub fn aliases_of(&self, index: usize) -> Vec<&SimAlias> {
        self.aliases
            .iter()
            .filter(|a| a.target == Some(index))
            .collect()
    }
}

/// The AWS-managed keys of one region and their `alias/aws/*` names.
fn aws_managed(
    rng: &mut SynthRng,
    account: &str,
    region: &str,
    origin: DateTime<Utc>,
    keys: &mut Vec<SimKey>,
    aliases: &mut Vec<SimAlias>,
) {
    for (service, description) in AWS_MANAGED {
        let created = origin - Duration::days(rng.random_range(400..2000));
        keys.push(SimKey {
            key: KmsKey {
                account: account.to_string(),
                region: region.to_string(),
                id: fmt_uuid(new_uuid(rng)),
                alias: format!("alias/aws/{service}"),
                usage: KeyUsage::Symmetric,
                bare_only: false,
            },
            name: service,
            description: (*description).to_string(),
            aws_managed: true,
            key_spec: "SYMMETRIC_DEFAULT",
            key_usage: "ENCRYPT_DECRYPT",
            state: "Enabled",
            created,
            deletion_date: None,
            pending_window_days: None,
            rotation: YEARLY,
            multi_region: false,
            policy: policy_text(account, service, false, true),
            tags: Vec::new(),
            denies_reader: false,
        });
        aliases.push(SimAlias {
            region: region.to_string(),
            name: format!("alias/aws/{service}"),
            target: Some(keys.len() - 1),
            created,
        });
    }
}

trait WholeSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).unwrap_or(self)
    }
}

fn team_of(key: &str) -> &'static str {
    match key {
        "orders" | "app-data" => "commerce",
        "payments" => "payments",
        "hr-payroll" => "people",
        "release-signing" | "api-tokens" => "platform",
        _ => "data",
    }
}
