//! The cast of a corpus: KMS keys and the callers that use them. Each caller
//! knows the principal string the report must derive from its records.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::ops::CONTROL;
use super::spec::CorpusSpec;
use super::text::{SynthRng, event_time, fmt_uuid, hex, hostile, hostile_count, new_uuid, upper};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsage {
    Symmetric,
    Sign,
    Hmac,
}

#[derive(Debug, Clone)]
pub struct KmsKey {
    pub account: String,
    pub region: String,
    /// Bare id: a UUID or `mrk-` + 32 hex (multi-Region keys share the id
    /// across regions, so only the ARN identifies one key).
    pub id: String,
    pub alias: String,
    pub usage: KeyUsage,
    /// Referenced only by bare id in `requestParameters`, never in
    /// `resources`, to exercise ARN construction from region + account.
    pub bare_only: bool,
}

impl KmsKey {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{}",
            self.region, self.account, self.id
        )
    }

    pub fn alias_arn(&self) -> String {
        format!(
            "arn:aws:kms:{}:{}:{}",
            self.region, self.account, self.alias
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    IamUser,
    AssumedRole,
    FederatedUser,
    Root,
    AwsService,
    /// Service events: `{"accountId", "invokedBy": "AWS Internal"}`, no type.
    ServiceInternal,
    /// Caller from another account: only `principalId` + `accountId`.
    AwsAccount,
    WebIdentityUser,
    Unknown,
}

/// Which encryption context a caller's data-plane calls carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextKind {
    CloudTrail,
    S3,
    DynamoDb,
    Secrets,
    Lambda,
    Ebs,
    App,
    None,
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub kind: IdentityKind,
    pub account: String,
    /// User/role name, service DNS name, or the principalId of principal-only
    /// identities.
    pub name: String,
    /// IAM path of a role, e.g. `aws-reserved/sso.amazonaws.com/`.
    pub path: String,
    pub principal_id: String,
    pub invoked_by: Option<String>,
    pub sessions: Vec<String>,
    pub user_agents: Vec<String>,
    pub source_ips: Vec<String>,
    pub context: ContextKind,
    pub ops: Vec<&'static str>,
    /// Preferred keys (indices into `Universe::keys`).
    pub keys: Vec<usize>,
    /// Relative share of the events whose op this caller performs.
    pub weight: f64,
    /// Only used by hostile events.
    pub hostile: bool,
    /// Never drawn: only a scripted pass of the planner gives it events.
    pub scripted: bool,
}

impl Identity {
    pub(crate) fn new(kind: IdentityKind, account: &str, name: &str) -> Self {
        Self {
            kind,
            account: account.to_string(),
            name: name.to_string(),
            path: String::new(),
            principal_id: String::new(),
            invoked_by: None,
            sessions: Vec::new(),
            user_agents: Vec::new(),
            source_ips: Vec::new(),
            context: ContextKind::None,
            ops: Vec::new(),
            keys: Vec::new(),
            weight: 1.0,
            hostile: false,
            scripted: false,
        }
    }

    fn role_arn(&self) -> String {
        format!(
            "arn:aws:iam::{}:role/{}{}",
            self.account, self.path, self.name
        )
    }

    /// `userIdentity.arn` as CloudTrail writes it, if this kind has one.
    pub fn arn(&self, session: &str) -> Option<String> {
        let a = &self.account;
        match self.kind {
            IdentityKind::IamUser => Some(format!("arn:aws:iam::{a}:user/{}", self.name)),
            IdentityKind::AssumedRole => Some(format!(
                "arn:aws:sts::{a}:assumed-role/{}/{session}",
                self.name
            )),
            IdentityKind::FederatedUser => {
                Some(format!("arn:aws:sts::{a}:federated-user/{}", self.name))
            }
            IdentityKind::Root => Some(format!("arn:aws:iam::{a}:root")),
            _ => None,
        }
    }

    /// The report's principal rule, answered from what we know we wrote.
    pub fn principal(&self) -> String {
        match self.kind {
            IdentityKind::AssumedRole => self.role_arn(),
            IdentityKind::AwsService | IdentityKind::ServiceInternal => {
                self.invoked_by.clone().unwrap_or_default()
            }
            IdentityKind::IamUser | IdentityKind::FederatedUser | IdentityKind::Root => {
                self.arn("").unwrap_or_default()
            }
            IdentityKind::AwsAccount => format!("account:{}", self.account),
            IdentityKind::WebIdentityUser => self.principal_id.clone(),
            IdentityKind::Unknown => "unknown".to_string(),
        }
    }

    /// The `userIdentity` object for one call.
    pub fn user_identity(
        &self,
        session: &str,
        at: DateTime<Utc>,
        rng: &mut SynthRng,
    ) -> UserIdentity {
        let a = &self.account;
        let created = event_time(at - chrono::Duration::minutes(17));
        let attributes = |mfa: &str| json!({"creationDate": created, "mfaAuthenticated": mfa});
        let mut v = UserIdentity::default();
        match self.kind {
            IdentityKind::IamUser => {
                v.kind = Some("IAMUser");
                v.principal_id = Some(self.principal_id.clone());
                v.arn = self.arn(session);
                v.account_id = Some(a.clone());
                v.access_key_id = Some(format!("AKIA{}", upper(rng, 16)));
                v.user_name = Some(self.name.clone());
            }
            IdentityKind::AssumedRole => {
                v.kind = Some("AssumedRole");
                v.principal_id = Some(format!("{}:{session}", self.principal_id));
                v.arn = self.arn(session);
                v.account_id = Some(a.clone());
                v.access_key_id = Some(format!("ASIA{}", upper(rng, 16)));
                v.session_context = Some(json!({
                    "sessionIssuer": {"type": "Role", "principalId": self.principal_id,
                        "arn": self.role_arn(), "accountId": a, "userName": self.name},
                    "webIdFederationData": {},
                    "attributes": attributes("false"),
                }));
            }
            IdentityKind::FederatedUser => {
                v.kind = Some("FederatedUser");
                v.principal_id = Some(format!("{a}:{}", self.name));
                v.arn = self.arn(session);
                v.account_id = Some(a.clone());
                v.access_key_id = Some(format!("ASIA{}", upper(rng, 16)));
                // An issuer that must NOT be used: only AssumedRole collapses to it.
                v.session_context = Some(json!({
                    "sessionIssuer": {"type": "IAMUser", "principalId": self.principal_id,
                        "arn": format!("arn:aws:iam::{a}:user/{}-broker", self.name),
                        "accountId": a, "userName": format!("{}-broker", self.name)},
                    "attributes": attributes("false"),
                }));
            }
            IdentityKind::Root => {
                v.kind = Some("Root");
                v.principal_id = Some(a.clone());
                v.arn = self.arn(session);
                v.account_id = Some(a.clone());
                v.access_key_id = Some(format!("ASIA{}", upper(rng, 16)));
                v.session_context = Some(json!({"attributes": attributes("true")}));
            }
            IdentityKind::AwsService => v.kind = Some("AWSService"),
            IdentityKind::ServiceInternal => v.account_id = Some(a.clone()),
            IdentityKind::AwsAccount => {
                v.kind = Some("AWSAccount");
                v.principal_id = Some(self.principal_id.clone());
                v.account_id = Some(a.clone());
            }
            IdentityKind::WebIdentityUser => {
                v.kind = Some("WebIdentityUser");
                v.principal_id = Some(self.principal_id.clone());
                v.user_name = Some(session.to_string());
                v.identity_provider = Some("cognito-identity.amazonaws.com".into());
            }
            IdentityKind::Unknown => v.kind = Some("Unknown"),
        }
        v.invoked_by = self.invoked_by.clone().filter(|_| {
            matches!(
                self.kind,
                IdentityKind::AssumedRole
                    | IdentityKind::IamUser
                    | IdentityKind::AwsService
                    | IdentityKind::ServiceInternal
            )
        });
        v
    }
}

/// `userIdentity` with CloudTrail's field order (`type` first), which a
/// streaming parser may rely on for speed but must not rely on for
/// correctness.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_context: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
}

/// Everything the planner draws from.
#[derive(Debug, Clone)]
pub struct Universe {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub keys: Vec<KmsKey>,
    pub identities: Vec<Identity>,
    /// Account outside the corpus, for cross-account callers.
    pub external_account: String,
    pub trail_bucket: String,
    /// Rendered hostile strings, indexed like `text::hostile`.
    pub hostile_strings: Vec<String>,
}

const SDK_UAS: &[&str] = &[
    "aws-sdk-java/2.25.11 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/kms#1.30.1",
];
const HUMAN_UAS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/kms.describe-key",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.44.0 aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1",
];

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

impl Universe {
    pub fn build(spec: &CorpusSpec, rng: &mut SynthRng) -> Self {
        let accounts = spec.accounts.clone();
        let regions = spec.regions.clone();
        let mut keys = Vec::new();
        for account in &accounts {
            let mrk = format!("mrk-{}", hex(rng, 32));
            for region in &regions {
                let mut add = |id: String, alias: &str, usage| {
                    keys.push(KmsKey {
                        account: account.clone(),
                        region: region.clone(),
                        id,
                        alias: format!("alias/{alias}"),
                        usage,
                        bare_only: false,
                    });
                };
                add(fmt_uuid(new_uuid(rng)), "app-data", KeyUsage::Symmetric);
                add(fmt_uuid(new_uuid(rng)), "backups", KeyUsage::Symmetric);
                add(mrk.clone(), "shared-mrk", KeyUsage::Symmetric);
                add(fmt_uuid(new_uuid(rng)), "release-signing", KeyUsage::Sign);
                add(fmt_uuid(new_uuid(rng)), "api-tokens", KeyUsage::Hmac);
            }
        }
        for (i, account) in accounts.iter().enumerate() {
            let id = if i % 2 == 0 {
                fmt_uuid(new_uuid(rng))
            } else {
                format!("mrk-{}", hex(rng, 32))
            };
            keys.push(KmsKey {
                account: account.clone(),
                region: regions[0].clone(),
                id,
                alias: "alias/legacy-batch".to_string(),
                usage: KeyUsage::Symmetric,
                bare_only: true,
            });
        }
        let external_account = ["777788889999", "123456789012"]
            .into_iter()
            .find(|a| !accounts.iter().any(|x| x == a))
            .unwrap_or("999999999999")
            .to_string();
        let trail_bucket = format!("aws-cloudtrail-logs-{}-{}", accounts[0], hex(rng, 8));
        let mut u = Universe {
            accounts,
            regions,
            keys,
            identities: Vec::new(),
            external_account,
            trail_bucket,
            hostile_strings: (0..hostile_count())
                .map(|i| hostile(i).into_owned())
                .collect(),
        };
        u.identities = super::cast::identities(&u, rng);
        // Built without the rng, so every draw above and after is as it was.
        if let Some(config) = super::cast::config_recorder(&u) {
            u.identities.push(config);
        }
        u
    }

    /// Keys of account `a` (index, wrapped) matching `usage`, across regions.
    pub fn keys_where(&self, a: usize, usage: KeyUsage, slot: Option<&str>) -> Vec<usize> {
        let account = &self.accounts[a % self.accounts.len()];
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, k)| &k.account == account && k.usage == usage && !k.bare_only)
            .filter(|(_, k)| slot.is_none_or(|s| k.alias.ends_with(s)))
            .map(|(i, _)| i)
            .collect()
    }
}

pub(crate) fn control_and(extra: &[&'static str]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = extra.to_vec();
    v.extend_from_slice(CONTROL);
    v
}

pub(crate) fn sdk_agents() -> Vec<String> {
    owned(SDK_UAS)
}

pub(crate) fn human_agents() -> Vec<String> {
    owned(HUMAN_UAS)
}
