//! The event names a compiled Sigma condition requires, so that the
//! engine offers the rule only events of those names (as it does for a
//! rule's `event_names`). Sigma compares names case-insensitively; the
//! engine's index is exact, so a name is indexed by the spelling
//! `CloudTrail` records for that KMS operation, and a condition naming
//! anything else is offered every event.

use super::eval::{Expr, SigmaField, Test};

/// KMS API operations and the `CloudTrail`-only KMS event names.
pub(crate) const KMS_EVENT_NAMES: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decapsulate",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteExpiredKeyMaterial",
    "DeleteImportedKeyMaterial",
    "DeleteKey",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKey",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "SynchronizeMultiRegionKey",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

/// The names an event must have for `expr` to hold; `None` when any name
/// could do (or one not in the list).
pub(super) fn required(expr: &Expr) -> Option<Vec<String>> {
    let mut names = match expr {
        Expr::Test(SigmaField::EventName, Test::Equals { text, cased }) => {
            let known = KMS_EVENT_NAMES.iter().find(|n| {
                if *cased {
                    **n == &**text
                } else {
                    n.eq_ignore_ascii_case(text)
                }
            })?;
            vec![(*known).to_owned()]
        }
        // Any part of a conjunction that limits the name limits it all.
        Expr::And(all) => all.iter().find_map(required)?,
        Expr::Or(any) => {
            let mut union = Vec::new();
            for x in any {
                union.extend(required(x)?);
            }
            union
        }
        _ => return None,
    };
    names.sort();
    names.dedup();
    Some(names)
}
