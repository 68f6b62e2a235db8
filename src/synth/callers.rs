//! The bulk of a corpus's callers: application roles and the people and
//! automation that administer keys. See `cast` for why their order matters.

use super::cast::{Builder, CRYPTO};
use super::identities::{ContextKind, IdentityKind, KeyUsage, control_and, human_agents};
use super::text::hex;
use IdentityKind::{AssumedRole, FederatedUser, IamUser, Root};

/// Long-running application roles; they produce most of the traffic.
pub(super) fn app_roles(b: &mut Builder) {
    let (a0, a1) = (b.acct(0), b.acct(1));
    let lambda = b.push(
        AssumedRole,
        &a0,
        "s3-reader-lambda",
        30.0,
        vec!["Decrypt", "GenerateDataKey"],
        [b.sym(0, "app-data"), b.sym(0, "shared-mrk")].concat(),
        ContextKind::S3,
    );
    lambda.invoked_by = Some("AWS Internal".into());
    lambda.user_agents = vec!["AWS Internal".into()];
    lambda.source_ips = vec!["AWS Internal".into()];
    lambda.sessions = vec![
        "s3-reader-lambda".into(),
        "s3-reader-lambda-thumbnails".into(),
        "s3-reader-lambda-ingest".into(),
    ];

    let sessions: Vec<String> = (0..8).map(|_| hex(b.rng, 32)).collect();
    let ecs = b.push(
        AssumedRole,
        &a1,
        "ecs-payments-task",
        20.0,
        vec![
            "Decrypt",
            "GenerateDataKey",
            "Encrypt",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateRandom",
        ],
        [b.sym(1, "backups"), b.sym(1, "shared-mrk")].concat(),
        ContextKind::App,
    );
    ecs.sessions = sessions;

    let sessions: Vec<String> = (0..6).map(|_| format!("i-0{}", hex(b.rng, 16))).collect();
    let ec2 = b.push(
        AssumedRole,
        &a0,
        "ec2-app-role",
        12.0,
        vec![
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "DescribeKey",
            "ListAliases",
            "ListKeys",
            "CreateGrant",
            "RetireGrant",
            "GenerateRandom",
        ],
        [b.sym(0, "backups"), b.sym(0, "shared-mrk")].concat(),
        ContextKind::Ebs,
    );
    ec2.sessions = sessions;

    let sessions: Vec<String> = (0..5)
        .map(|_| format!("api-server-{}", hex(b.rng, 10)))
        .collect();
    let api = b.push(
        AssumedRole,
        &a0,
        "api-server",
        10.0,
        vec!["Decrypt", "GenerateDataKey", "GenerateMac", "VerifyMac"],
        [
            b.sym(0, "app-data"),
            b.u.keys_where(0, KeyUsage::Hmac, None),
        ]
        .concat(),
        ContextKind::Secrets,
    );
    api.invoked_by = Some("secretsmanager.amazonaws.com".into());
    api.source_ips = vec!["secretsmanager.amazonaws.com".into()];
    api.user_agents = vec!["secretsmanager.amazonaws.com".into()];
    api.sessions = sessions;
}

/// Batch jobs and CI signing: bursty, and the source of the denied burst.
pub(super) fn batch_roles(b: &mut Builder) {
    let a1 = b.acct(1);
    // The denied-Decrypt burst comes from this role against account 0's key.
    let etl = b.push(
        AssumedRole,
        &a1,
        "etl-batch",
        5.0,
        CRYPTO.to_vec(),
        [b.sym(1, "app-data"), b.region0(b.sym(0, "backups"))].concat(),
        ContextKind::S3,
    );
    etl.sessions = (1..=5).map(|n| format!("etl-2025-05-20-run{n}")).collect();

    let signer = b.push(
        AssumedRole,
        &a1,
        "code-signer",
        3.0,
        vec!["Sign", "Verify", "GetPublicKey", "DescribeKey"],
        [
            b.u.keys_where(1, KeyUsage::Sign, None),
            b.region0(b.u.keys_where(0, KeyUsage::Sign, None)),
        ]
        .concat(),
        ContextKind::None,
    );
    signer.sessions = (0..4)
        .map(|n| format!("GitHubActions-{}", 9_000_000_000u64 + n * 7_919))
        .collect();
    signer.source_ips = vec!["140.82.112.4".into(), "2606:50c0:8000::154".into()];
}

/// Administrators, CI and legacy users: low volume, most of the control plane.
pub(super) fn people(b: &mut Builder) {
    let (a0, a1) = (b.acct(0), b.acct(1));
    let sso = b.push(
        AssumedRole,
        &a0,
        "AWSReservedSSO_AdministratorAccess_4f5b2c9e8d7a6b1c",
        2.0,
        control_and(&[
            "DescribeKey",
            "ListKeys",
            "ListAliases",
            "GetKeyPolicy",
            "GetKeyRotationStatus",
            "ListGrants",
            "ListResourceTags",
        ]),
        b.all_keys(0),
        ContextKind::None,
    );
    sso.path = "aws-reserved/sso.amazonaws.com/".into();
    sso.sessions = vec![
        "alice@example.com".into(),
        "dave.o'brien@example.com".into(),
    ];
    sso.user_agents = human_agents();

    let alice = b.push(
        IamUser,
        &a0,
        "alice",
        1.5,
        control_and(&[
            "Encrypt",
            "Decrypt",
            "DescribeKey",
            "ListKeys",
            "ListAliases",
            "GetKeyPolicy",
        ]),
        b.all_keys(0),
        ContextKind::App,
    );
    alice.user_agents = human_agents();
    let ci = b.push(
        IamUser,
        &a1,
        "ci-deployer",
        2.0,
        control_and(&[
            "DescribeKey",
            "GetKeyPolicy",
            "GetKeyRotationStatus",
            "ListResourceTags",
            "ListGrants",
        ]),
        b.all_keys(1),
        ContextKind::None,
    );
    ci.user_agents = vec![human_agents()[2].clone()];
    b.push(
        IamUser,
        &a1,
        "legacy-batch",
        2.0,
        CRYPTO.to_vec(),
        b.bare_keys(),
        ContextKind::App,
    );

    let root = b.push(
        Root,
        &a0,
        "root",
        0.05,
        vec![
            "ListKeys",
            "ListAliases",
            "DescribeKey",
            "PutKeyPolicy",
            "EnableKey",
            "DisableKey",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
        ],
        b.all_keys(0),
        ContextKind::None,
    );
    root.user_agents = vec![human_agents()[1].clone()];
    b.push(
        FederatedUser,
        &a0,
        "carol",
        0.3,
        vec!["Decrypt", "DescribeKey", "ListAliases"],
        b.region0(b.sym(0, "app-data")),
        ContextKind::App,
    );
}
