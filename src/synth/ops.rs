//! KMS API vocabulary: which calls exist, how often they occur in a busy
//! account, and how CloudTrail classifies them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpClass {
    /// Symmetric data-plane calls; the bulk of real KMS volume.
    Crypto,
    Asymmetric,
    Mac,
    /// Read-only calls about one key.
    Meta,
    /// Calls that never name a key (`List*`, `GenerateRandom`).
    Keyless,
    /// Mutating management calls (`readOnly: false`).
    Control,
    /// `AwsServiceEvent`s KMS emits on its own (no caller).
    Service,
}

#[derive(Debug, Clone, Copy)]
pub struct Op {
    pub name: &'static str,
    pub class: OpClass,
    /// Relative frequency in percent of all KMS events.
    pub weight: f64,
}

impl Op {
    pub fn read_only(&self) -> bool {
        !matches!(self.class, OpClass::Control | OpClass::Service)
    }

    pub fn needs_key(&self) -> bool {
        self.class != OpClass::Keyless
    }

    /// Calls whose response names the key, enabling the
    /// `responseElements.keyId` fallback.
    pub fn echoes_key(&self) -> bool {
        matches!(
            self.name,
            "ScheduleKeyDeletion" | "CancelKeyDeletion" | "DeleteKey"
        )
    }
}

const fn op(name: &'static str, class: OpClass, weight: f64) -> Op {
    Op {
        name,
        class,
        weight,
    }
}

use OpClass::{Asymmetric, Control, Crypto, Keyless, Mac, Meta, Service};

/// Weights approximate production traffic: ~60 % `Decrypt`, ~25 %
/// `GenerateDataKey`, ~0.5 % control plane.
pub const OPS: &[Op] = &[
    op("Decrypt", Crypto, 60.0),
    op("GenerateDataKey", Crypto, 25.0),
    op("Encrypt", Crypto, 4.0),
    op("GenerateDataKeyWithoutPlaintext", Crypto, 1.5),
    op("GenerateDataKeyPair", Crypto, 0.2),
    op("DescribeKey", Meta, 3.4),
    op("GetKeyPolicy", Meta, 0.2),
    op("GetKeyRotationStatus", Meta, 0.2),
    op("ListGrants", Meta, 0.15),
    op("ListResourceTags", Meta, 0.1),
    op("Sign", Asymmetric, 1.0),
    op("Verify", Asymmetric, 0.6),
    op("GetPublicKey", Asymmetric, 0.2),
    op("GenerateMac", Mac, 0.8),
    op("VerifyMac", Mac, 0.4),
    op("GenerateRandom", Keyless, 0.4),
    op("ListKeys", Keyless, 0.3),
    op("ListAliases", Keyless, 0.4),
    op("CreateGrant", Control, 0.15),
    op("RetireGrant", Control, 0.08),
    op("RevokeGrant", Control, 0.015),
    op("ScheduleKeyDeletion", Control, 0.015),
    op("CancelKeyDeletion", Control, 0.01),
    op("DisableKey", Control, 0.015),
    op("EnableKey", Control, 0.015),
    op("PutKeyPolicy", Control, 0.02),
    op("EnableKeyRotation", Control, 0.015),
    op("DisableKeyRotation", Control, 0.01),
    op("CreateAlias", Control, 0.015),
    op("UpdateAlias", Control, 0.01),
    op("DeleteAlias", Control, 0.01),
    op("TagResource", Control, 0.02),
    op("UntagResource", Control, 0.01),
    op("UpdateKeyDescription", Control, 0.01),
    op("CreateKey", Control, 0.015),
    op("RotateKey", Service, 0.02),
    op("DeleteKey", Service, 0.01),
];

pub fn find(name: &str) -> Option<&'static Op> {
    OPS.iter().find(|o| o.name == name)
}

pub fn index_of(name: &str) -> Option<usize> {
    OPS.iter().position(|o| o.name == name)
}

/// Control-plane calls a human admin makes; shared by several identities.
pub const CONTROL: &[&str] = &[
    "CreateGrant",
    "RetireGrant",
    "RevokeGrant",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DisableKey",
    "EnableKey",
    "PutKeyPolicy",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "TagResource",
    "UntagResource",
    "UpdateKeyDescription",
    "CreateKey",
];

/// Denial codes; all satisfy the report's "denied" rule.
pub const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "VpceAccessDenied",
    "Client.UnauthorizedOperation",
];

/// Non-denial failures; they count as errors.
pub const ERROR_CODES: &[&str] = &[
    "KMSInvalidStateException",
    "InvalidCiphertextException",
    "ThrottlingException",
    "NotFoundException",
    "IncorrectKeyException",
];
