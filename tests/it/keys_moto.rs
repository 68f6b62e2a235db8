//! `kmstop keys` (the binary) against moto's server: the state is made
//! through the Rust SDK directly, then kmstop's JSON must equal what moto
//! holds, field by field; CSV and the table are checked for their columns
//! and for escaping a hostile key description.
//!
//! moto 5.x gaps, found here: it ignores `RotationPeriodInDays` and its
//! `GetKeyRotationStatus` returns neither period nor next date (so those
//! are taken from moto's own answer: `null`); it lacks `GetKeyLastUsage`
//! (an HTML 500: kmstop warns once per region and prints `null`); it cannot
//! make AWS-managed keys; and `ListAliases` always lists `alias/aws/*`
//! aliases whose keys do not exist (kmstop must not invent rows for them).

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_kms::Client;
use aws_sdk_kms::types::{GrantOperation, KeyMetadata, KeySpec, KeyUsageType};
use chrono::{DateTime, Utc};
use kmstop::clock::{Clock, SystemClock};
use serde_json::Value;

use support::key_list::{ExpectedKey, RanBetween, assert_keys_json};
use support::moto::Moto;

/// Starts with `=` (a spreadsheet formula), recolours the terminal, and
/// reverses the text after it.
const HOSTILE: &str = "=2+3 \u{1b}[31mred\u{1b}[0m \u{202e}gnp.exe";
const DENY_DESCRIBE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"no-describe","Effect":"Deny","Principal":{"AWS":"*"},"Action":["kms:DescribeKey"],"Resource":"*"}]}"#;

fn kms(endpoint: &str, region: &str) -> Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("x", "x", None, None, "test"))
        .build();
    Client::from_conf(conf)
}

fn chrono_time(t: &aws_smithy_types::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).expect("a time in range")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `kmstop keys ARGS` with only fake credentials, on a wide terminal.
fn kmstop_keys(home: &Path, args: &[&str]) -> Output {
    support::kmstop_offline(home)
        .arg("keys")
        .args(args)
        .env("COLUMNS", "250")
        .output()
        .expect("kmstop runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

/// A new key, and what kmstop should print for it before any change.
async fn create(
    client: &Client,
    region: &str,
    description: &str,
    spec: KeySpec,
    usage: KeyUsageType,
    policy: Option<&str>,
) -> ExpectedKey {
    let out = client
        .create_key()
        .description(description)
        .key_spec(spec)
        .key_usage(usage)
        .set_policy(policy.map(str::to_string))
        .send()
        .await
        .expect("CreateKey");
    let m: &KeyMetadata = out.key_metadata().expect("metadata");
    ExpectedKey {
        key_id: m.key_id().to_string(),
        arn: m.arn().expect("arn").to_string(),
        account: m.aws_account_id().expect("account").to_string(),
        region: region.to_string(),
        aliases: Some(Vec::new()),
        description: Some(description.to_string()),
        state: Some("Enabled".into()),
        key_manager: Some("CUSTOMER".into()),
        key_spec: m.key_spec().map(|s| s.as_str().to_string()),
        key_usage: m.key_usage().map(|s| s.as_str().to_string()),
        rotation_enabled: Some(false),
        created: m.creation_date().map(chrono_time),
        ..ExpectedKey::default()
    }
}

async fn alias(client: &Client, key: &mut ExpectedKey, name: &str) {
    client
        .create_alias()
        .alias_name(name)
        .target_key_id(&key.key_id)
        .send()
        .await
        .expect("CreateAlias");
    let aliases = key.aliases.get_or_insert_with(Vec::new);
    aliases.push(name.to_string());
    aliases.sort();
}

fn marks(fields: &[&str], why: &str) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|f| ((*f).to_string(), why.to_string()))
        .collect()
}

/// A key with two aliases, rotation on (custom period) and one on-demand
/// rotation.
async fn orders(east: &Client) -> ExpectedKey {
    let mut orders = create(
        east,
        "us-east-1",
        "orders data",
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
        None,
    )
    .await;
    alias(east, &mut orders, "alias/orders").await;
    alias(east, &mut orders, "alias/orders-legacy").await;
    east.enable_key_rotation()
        .key_id(&orders.key_id)
        .rotation_period_in_days(180)
        .send()
        .await
        .expect("EnableKeyRotation");
    east.rotate_key_on_demand()
        .key_id(&orders.key_id)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    orders.rotation_enabled = Some(true);
    // What moto holds for the period and next date (nothing, in moto 5.x;
    // the simulator answers 180 and a date).
    let status = east
        .get_key_rotation_status()
        .key_id(&orders.key_id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    orders.rotation_period_days = status
        .rotation_period_in_days()
        .map(|d| u32::try_from(d).expect("positive"));
    orders.next_rotation = status.next_rotation_date().map(chrono_time);
    let rotations = east
        .list_key_rotations()
        .key_id(&orders.key_id)
        .send()
        .await
        .expect("ListKeyRotations");
    orders.last_rotated = rotations
        .rotations()
        .iter()
        .filter_map(|r| r.rotation_date().map(chrono_time))
        .max();
    assert!(orders.last_rotated.is_some(), "moto recorded the rotation");
    // A grant: who may still use the key whatever its policy says.
    let grantee = format!("arn:aws:iam::{}:role/orders-api", orders.account);
    east.create_grant()
        .key_id(&orders.key_id)
        .grantee_principal(&grantee)
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .expect("CreateGrant");
    orders.grantees = Some(vec![grantee]);
    orders
}

/// Makes every kind of key the inventory must show, in two regions, and
/// returns what kmstop must print for them.
async fn populate(endpoint: &str) -> Vec<ExpectedKey> {
    let east = kms(endpoint, "us-east-1");
    let sym = || (KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt);

    let orders = orders(&east).await;

    let (spec, usage) = sym();
    let mut disabled = create(&east, "us-east-1", "retired", spec, usage, None).await;
    alias(&east, &mut disabled, "alias/old").await;
    east.disable_key()
        .key_id(&disabled.key_id)
        .send()
        .await
        .expect("DisableKey");
    disabled.state = Some("Disabled".into());
    disabled.unreadable = marks(&["rotation_period_days", "next_rotation"], "n/a");

    let (spec, usage) = sym();
    let mut doomed = create(&east, "us-east-1", "going away", spec, usage, None).await;
    let scheduled = east
        .schedule_key_deletion()
        .key_id(&doomed.key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    doomed.state = Some("PendingDeletion".into());
    doomed.deletion_date = scheduled.deletion_date().map(chrono_time);
    assert!(
        doomed.deletion_date.is_some(),
        "moto answered a deletion date"
    );

    let mut signer = create(
        &east,
        "us-east-1",
        "signing",
        KeySpec::Rsa2048,
        KeyUsageType::SignVerify,
        None,
    )
    .await;
    // Asymmetric keys cannot rotate: not false, but not applicable.
    signer.rotation_enabled = None;
    signer.unreadable = marks(
        &[
            "rotation_enabled",
            "rotation_period_days",
            "next_rotation",
            "last_rotated",
        ],
        "n/a",
    );

    let (spec, usage) = sym();
    let mut hostile = create(&east, "us-east-1", HOSTILE, spec, usage, None).await;
    alias(&east, &mut hostile, "alias/hostile").await;

    // moto enforces Deny statements on DescribeKey (only): the key's row
    // stays, its described fields read "no access".
    let (spec, usage) = sym();
    let mut denied = create(
        &east,
        "us-east-1",
        "locked",
        spec,
        usage,
        Some(DENY_DESCRIBE),
    )
    .await;
    denied.description = None;
    denied.state = None;
    denied.key_manager = None;
    denied.key_spec = None;
    denied.key_usage = None;
    denied.created = None;
    denied.unreadable = marks(
        &[
            "description",
            "state",
            "key_manager",
            "key_spec",
            "key_usage",
            "created",
        ],
        "no access",
    );

    let west = kms(endpoint, "us-west-2");
    let (spec, usage) = sym();
    let mut western = create(&west, "us-west-2", "west coast", spec, usage, None).await;
    alias(&west, &mut western, "alias/west").await;
    western.grantees = Some(Vec::new());

    vec![orders, disabled, doomed, signer, hostile, denied, western]
}

#[test]
fn keys_print_what_moto_holds() {
    let moto = Moto::start();
    let expected = runtime().block_on(populate(&moto.endpoint));
    let home = tempfile::tempdir().expect("empty HOME");
    let common = [
        "--endpoint-url",
        moto.endpoint.as_str(),
        "--region",
        "us-east-1,us-west-2",
    ];

    check_json(&moto, home.path(), &common, &expected);
    check_csv(home.path(), &common, &expected);
    check_table(home.path(), &common, &expected);
}

fn check_json(moto: &Moto, home: &Path, common: &[&str], expected: &[ExpectedKey]) {
    // JSON: every key, every field.
    let start = SystemClock.now();
    let out = kmstop_keys(home, &[common, &["--format", "json"]].concat());
    let end = SystemClock.now();
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stderr}\n{}",
        out.status,
        moto.log()
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_keys_json(&printed, expected, RanBetween { start, end });
    // moto lacks GetKeyLastUsage: a warning, not a failure, and `null`.
    assert!(stderr.contains("GetKeyLastUsage"), "{stderr}");
    assert!(
        printed
            .as_array()
            .expect("array")
            .iter()
            .all(|k| k["last_used"].is_null())
    );
}

fn check_csv(home: &Path, common: &[&str], expected: &[ExpectedKey]) {
    // CSV: the same columns, every key, hostile text escaped and defused.
    let out = kmstop_keys(home, &[common, &["--format", "csv"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header,
        [
            "key_id",
            "arn",
            "account",
            "region",
            "aliases",
            "description",
            "state",
            "key_manager",
            "key_spec",
            "key_usage",
            "origin",
            "multi_region",
            "rotation_enabled",
            "rotation_period_days",
            "next_rotation",
            "last_rotated",
            "deletion_date",
            "days_until_deletion",
            "last_used",
            "created",
            "unreadable",
            "last_used_operation",
            "last_used_event_id",
            "grants",
            "grantees",
            "last_used_tracked_since",
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), expected.len());
    let row = |id: &str| {
        rows.iter()
            .find(|r| &r[0] == id)
            .unwrap_or_else(|| panic!("{id} in the CSV"))
            .clone()
    };
    let hostile = row(&expected[4].key_id);
    assert_eq!(
        &hostile[5], "'=2+3 \\x1b[31mred\\x1b[0m \\u{202e}gnp.exe",
        "escaped and defused"
    );
    let orders = row(&expected[0].key_id);
    assert_eq!(&orders[4], "alias/orders;alias/orders-legacy");
    assert_eq!(&orders[12], "true");
    assert_eq!(&orders[18], "", "unknown last_used is empty");
    let doomed = row(&expected[2].key_id);
    assert_eq!(&doomed[6], "PendingDeletion");
    assert!(
        doomed[17]
            .parse::<i64>()
            .is_ok_and(|d| (6..=7).contains(&d))
    );
}

fn check_table(home: &Path, common: &[&str], expected: &[ExpectedKey]) {
    // Table: the columns a person reads, marks in words, nothing raw.
    let out = kmstop_keys(home, common);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for header in [
        "key",
        "state",
        "rotation",
        "last used",
        "region",
        "description",
    ] {
        assert!(table.contains(header), "{header} in\n{table}");
    }
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{202e}'),
        "{table}"
    );
    assert!(table.contains("\\x1b[31mred"), "{table}");
    assert!(table.contains("alias/orders +1"), "{table}");
    let deletion = expected[2].deletion_date.expect("scheduled");
    let deleted_on = format!("PendingDeletion {}", deletion.format("%Y-%m-%d"));
    assert!(table.contains(&deleted_on), "{deleted_on} in\n{table}");
    assert!(table.contains("no access"), "the denied key's row: {table}");
    assert!(table.contains("n/a"), "the signing key's rotation: {table}");
    assert!(
        !table.contains("alias/aws/"),
        "moto's key-less aliases: {table}"
    );
}

#[test]
fn a_failing_region_is_reported_and_the_others_print() {
    let moto = Moto::start();
    let expected = runtime().block_on(async {
        let east = kms(&moto.endpoint, "us-east-1");
        create(
            &east,
            "us-east-1",
            "only key",
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
            None,
        )
        .await
    });
    let home = tempfile::tempdir().expect("empty HOME");
    // moto answers a region it does not know with a 500.
    let out = kmstop_keys(
        home.path(),
        &[
            "--endpoint-url",
            &moto.endpoint,
            "--region",
            "us-east-1,moon-east-1",
            "--format",
            "json",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("moon-east-1: cannot list keys"), "{stderr}");
    assert!(stderr.contains("1 region(s) could not be read"), "{stderr}");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let ids: Vec<&str> = printed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|k| k["key_id"].as_str())
        .collect();
    assert_eq!(ids, [expected.key_id.as_str()]);
}
