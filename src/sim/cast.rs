//! Who calls KMS in the simulated account, how often, and when: a dozen
//! roles, users and services, each with a daily rhythm (busy at its peak
//! hour, quieter twelve hours later) and the encryption contexts its data
//! really carries.

use std::f64::consts::TAU;

use chrono::{DateTime, Timelike, Utc};

use crate::synth::Identity;
use crate::synth::identities::{ContextKind, IdentityKind};
use crate::synth::text::{SynthRng, hex, upper};

/// The role whose credentials leak in the default scenario.
pub const COMPROMISED: &str = "analytics-etl";
/// The admin who opens a key policy in the default scenario.
pub const ADMIN: &str = "alice";
/// The role kmstop reads as (STS `GetCallerIdentity`).
pub const READER_ROLE: &str = "kmstop-reader";
pub const READER_SESSION: &str = "kmstop";

#[derive(Debug, Clone)]
pub struct Principal {
    pub identity: Identity,
    /// Events per second at the daily peak, in the home region.
    pub peak_rate: f64,
    /// UTC hour of the peak.
    pub peak_hour: f64,
    /// 0: flat all day; 0.8: the quiet hours see a fifth of the peak.
    pub swing: f64,
    /// Operations with relative weights.
    pub ops: &'static [(&'static str, f64)],
    /// Roles of the keys it uses (see `world`), in every region.
    pub keys: &'static [&'static str],
    /// Share of its calls refused with `AccessDenied` (stale policies,
    /// a missing grant): background noise, far below any spike rule.
    pub denied: f64,
}

impl Principal {
    /// Mean events per second at `t` in the home region.
    pub fn rate_at(&self, t: DateTime<Utc>) -> f64 {
        let hour = f64::from(t.hour()) + f64::from(t.minute()) / 60.0;
        let phase = ((hour - self.peak_hour) / 24.0 * TAU).cos();
        self.peak_rate * (1.0 - self.swing * (1.0 - phase) / 2.0)
    }

    pub fn name(&self) -> &str {
        &self.identity.name
    }
}

const SDK_JAVA: &str = "aws-sdk-java/2.25.11 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy";
const BOTO3: &str = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.69";
const GO_SDK: &str =
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/kms#1.30.1";
const CLI: &str =
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/kms.describe-key";
const CONSOLE: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

struct Spec {
    kind: IdentityKind,
    name: &'static str,
    peak_rate: f64,
    peak_hour: f64,
    swing: f64,
    ops: &'static [(&'static str, f64)],
    keys: &'static [&'static str],
    context: ContextKind,
    agents: &'static [&'static str],
    /// AWS service acting for the caller (`invokedBy`, also its IP/agent).
    via: Option<&'static str>,
}

const DATA: &[(&str, f64)] = &[
    ("Decrypt", 60.0),
    ("GenerateDataKey", 30.0),
    ("Encrypt", 5.0),
];

#[allow(clippy::too_many_lines)] // one table of the cast reads best whole
fn specs() -> Vec<Spec> {
    use IdentityKind::{AssumedRole, AwsService, IamUser};
    let role = |name, peak_rate, peak_hour, ops, keys, context, agents| Spec {
        kind: AssumedRole,
        name,
        peak_rate,
        peak_hour,
        swing: 0.6,
        ops,
        keys,
        context,
        agents,
        via: None,
    };
    vec![
        role(
            "orders-api",
            1.2,
            14.0,
            DATA,
            &["orders"],
            ContextKind::DynamoDb,
            &[SDK_JAVA],
        ),
        role(
            "payments-worker",
            0.6,
            15.0,
            &[("Decrypt", 70.0), ("GenerateDataKey", 30.0)],
            &["payments"],
            ContextKind::Secrets,
            &[GO_SDK],
        ),
        Spec {
            swing: 0.8,
            ..role(
                "data-pipeline",
                0.8,
                2.0,
                &[("GenerateDataKey", 50.0), ("Decrypt", 50.0)],
                &["app-data", "shared-mrk"],
                ContextKind::S3,
                &[BOTO3],
            )
        },
        role(
            COMPROMISED,
            0.1,
            9.0,
            &[("Decrypt", 1.0)],
            &["app-data"],
            ContextKind::S3,
            &[BOTO3],
        ),
        role(
            "legacy-reports",
            0.03,
            6.0,
            &[("Decrypt", 1.0)],
            &["old-reports"],
            ContextKind::S3,
            &[SDK_JAVA],
        ),
        role(
            "ci-deployer",
            0.05,
            11.0,
            &[
                ("Sign", 50.0),
                ("GetPublicKey", 10.0),
                ("Verify", 20.0),
                ("DescribeKey", 20.0),
            ],
            &["release-signing"],
            ContextKind::None,
            &[GO_SDK],
        ),
        role(
            "session-service",
            0.4,
            20.0,
            &[("GenerateMac", 60.0), ("VerifyMac", 40.0)],
            &["api-tokens"],
            ContextKind::None,
            &[SDK_JAVA],
        ),
        Spec {
            via: Some("secretsmanager.amazonaws.com"),
            ..role(
                "app-backend",
                0.5,
                13.0,
                &[("Decrypt", 1.0)],
                &["secretsmanager"],
                ContextKind::Secrets,
                &[],
            )
        },
        Spec {
            via: Some("s3.amazonaws.com"),
            ..role(
                "uploads-service",
                0.4,
                16.0,
                &[("GenerateDataKey", 70.0), ("Decrypt", 30.0)],
                &["s3"],
                ContextKind::S3,
                &[],
            )
        },
        Spec {
            kind: IamUser,
            swing: 0.95,
            ..role(
                ADMIN,
                0.01,
                10.0,
                &[
                    ("DescribeKey", 40.0),
                    ("ListAliases", 20.0),
                    ("ListKeys", 10.0),
                    ("GetKeyPolicy", 15.0),
                    ("GetKeyRotationStatus", 15.0),
                ],
                &["orders", "payments", "partner-share", "hr-payroll"],
                ContextKind::None,
                &[CLI, CONSOLE],
            )
        },
        Spec {
            kind: IamUser,
            swing: 0.9,
            ..role(
                "bob",
                0.02,
                15.0,
                &[("Encrypt", 50.0), ("Decrypt", 50.0)],
                &["partner-share", "app-data"],
                ContextKind::App,
                &[CLI],
            )
        },
        Spec {
            kind: AwsService,
            swing: 0.3,
            ..role(
                "cloudtrail.amazonaws.com",
                0.2,
                12.0,
                &[("GenerateDataKey", 90.0), ("DescribeKey", 10.0)],
                &["cloudtrail-logs"],
                ContextKind::CloudTrail,
                &[],
            )
        },
        Spec {
            kind: AwsService,
            swing: 0.5,
            ..role(
                "dynamodb.amazonaws.com",
                0.3,
                14.0,
                &[
                    ("Decrypt", 50.0),
                    ("GenerateDataKey", 40.0),
                    ("DescribeKey", 10.0),
                ],
                &["dynamodb"],
                ContextKind::DynamoDb,
                &[],
            )
        },
    ]
}

fn ips(rng: &mut SynthRng) -> Vec<String> {
    use rand::RngExt;
    vec![
        format!(
            "10.0.{}.{}",
            rng.random_range(0..255),
            rng.random_range(1..255)
        ),
        format!(
            "10.1.{}.{}",
            rng.random_range(0..255),
            rng.random_range(1..255)
        ),
    ]
}

/// The cast of `account`, in a fixed order (indices are part of events).
pub fn principals(account: &str, rng: &mut SynthRng) -> Vec<Principal> {
    specs()
        .into_iter()
        .map(|s| {
            let service = s.kind == IdentityKind::AwsService;
            let mut id = Identity::new(s.kind, if service { "" } else { account }, s.name);
            id.principal_id = match s.kind {
                IdentityKind::AssumedRole => format!("AROA{}", upper(rng, 17)),
                _ => format!("AIDA{}", upper(rng, 17)),
            };
            id.context = s.context;
            id.user_agents = s.agents.iter().map(ToString::to_string).collect();
            id.source_ips = ips(rng);
            id.sessions = match s.kind {
                IdentityKind::AssumedRole => {
                    (0..3).map(|_| format!("i-0{}", hex(rng, 16))).collect()
                }
                _ => vec![s.name.to_string()],
            };
            let via = s.via.or(service.then_some(s.name));
            if let Some(via) = via {
                id.invoked_by = Some(via.to_string());
                id.user_agents = vec![via.to_string()];
                id.source_ips = vec![via.to_string()];
            }
            Principal {
                identity: id,
                peak_rate: s.peak_rate,
                peak_hour: s.peak_hour,
                swing: s.swing,
                ops: s.ops,
                keys: s.keys,
                denied: if service { 0.0 } else { 0.002 },
            }
        })
        .collect()
}

/// The caller STS reports and CloudTrail records for the KMS calls the
/// simulator serves.
pub fn reader(account: &str, rng: &mut SynthRng) -> Identity {
    let mut id = Identity::new(IdentityKind::AssumedRole, account, READER_ROLE);
    id.principal_id = format!("AROA{}", upper(rng, 17));
    id.sessions = vec![READER_SESSION.to_string()];
    id.source_ips = vec!["127.0.0.1".to_string()];
    id
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::synth::ops;

    #[test]
    fn every_op_exists_and_rhythms_peak_when_they_should() {
        let mut rng = SynthRng::seed_from_u64(1);
        let cast = principals("111122223333", &mut rng);
        assert!(cast.len() >= 12);
        for p in &cast {
            for (op, _) in p.ops {
                assert!(ops::find(op).is_some(), "{op}");
            }
        }
        let p = &cast[0];
        let at = |h: u32| {
            format!("2026-01-01T{h:02}:00:00Z")
                .parse::<DateTime<Utc>>()
                .expect("time")
        };
        let peak = p.rate_at(at(14));
        let trough = p.rate_at(at(2));
        assert!((peak - p.peak_rate).abs() < 1e-9);
        assert!((trough - p.peak_rate * 0.4).abs() < 1e-9, "{trough}");
    }
}
