//! `kmstop keys` against the loopback simulator: the same assertions as
//! against moto (`tests/keys_moto.rs`), with the simulator's world as the
//! truth — AWS-managed keys, custom rotation periods, a key pending
//! deletion, keys that cannot rotate and a key whose policy refuses the
//! reader, in two regions.

use crate::support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use chrono::{DateTime, Utc};
use kmstop::clock::{Clock, SystemClock};
use kmstop::sim::{Sim, SimHandle, SimOptions};
use support::key_list::{ExpectedKey, RanBetween, assert_keys_json};

/// What `GetKeyLastUsage` says, asked directly with the SDK: kmstop must
/// print exactly what the server answers. The call's quota is low (5/s in
/// the simulator), so this asks with plenty of retries.
async fn last_usage(sim: &SimHandle, region: &str, key_id: &str) -> Option<DateTime<Utc>> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(sim.endpoint())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("x", "x", None, None, "test"))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10))
        .load()
        .await;
    let out = aws_sdk_kms::Client::new(&config)
        .get_key_last_usage()
        .key_id(key_id)
        .send()
        .await
        .ok()?;
    let at = out.key_last_usage()?.timestamp()?;
    DateTime::from_timestamp(at.secs(), at.subsec_nanos())
}

fn expected(sim: &SimHandle, now: DateTime<Utc>) -> Vec<ExpectedKey> {
    use kmstop::sim::Rotation;
    let world = sim.world();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    world
        .keys
        .iter()
        .enumerate()
        .map(|(index, key)| {
            let mut aliases: Vec<String> = world
                .aliases_of(index)
                .iter()
                .map(|a| a.name.clone())
                .collect();
            aliases.sort();
            let mut unreadable = BTreeMap::new();
            let (rotation_enabled, rotation_period_days) = match key.rotation {
                Rotation::On { period_days } if !key.denies_reader => {
                    (Some(true), Some(period_days))
                }
                Rotation::Off if !key.denies_reader => (Some(false), None),
                Rotation::Unsupported => {
                    unreadable.insert("rotation_enabled".to_string(), "n/a".to_string());
                    (None, None)
                }
                _ => {
                    unreadable.insert("rotation_enabled".to_string(), "no access".to_string());
                    (None, None)
                }
            };
            let readable_rotation =
                !key.denies_reader && matches!(key.rotation, Rotation::On { .. });
            ExpectedKey {
                key_id: key.id().to_string(),
                arn: key.arn(),
                account: world.account.clone(),
                region: key.region().to_string(),
                aliases: Some(aliases),
                description: Some(key.description.clone()),
                state: Some(key.state.to_string()),
                key_manager: Some(if key.aws_managed { "AWS" } else { "CUSTOMER" }.to_string()),
                key_spec: Some(key.key_spec.to_string()),
                key_usage: Some(key.key_usage.to_string()),
                rotation_enabled,
                rotation_period_days,
                next_rotation: if readable_rotation {
                    key.next_rotation(now)
                } else {
                    None
                },
                last_rotated: if readable_rotation {
                    key.rotations(now).last().copied()
                } else {
                    None
                },
                deletion_date: key.deletion_date,
                last_used: if key.denies_reader {
                    None
                } else {
                    rt.block_on(last_usage(sim, key.region(), key.id()))
                },
                created: Some(key.created),
                unreadable,
                // The world's grants (src/sim/kms.rs), read for customer
                // keys the reader may read.
                grantees: (!key.aws_managed && !key.denies_reader).then(|| match key.name {
                    "orders" => vec![format!("arn:aws:iam::{}:role/orders-api", world.account)],
                    "old-reports" => vec![format!(
                        "arn:aws:iam::{}:role/legacy-reports",
                        world.account
                    )],
                    _ => Vec::new(),
                }),
            }
        })
        .collect()
}

#[test]
fn keys_json_is_what_the_simulator_holds() {
    let start = SystemClock.now();
    let sim = Sim::start(SimOptions {
        seed: 5,
        history: Duration::from_mins(3),
        // No traffic after the start: last use stays put while we compare.
        events_until: Some(start),
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let state = tempfile::tempdir().expect("state dir");
    let ran_from = SystemClock.now();
    let output = Command::new(env!("CARGO_BIN_EXE_kmstop"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", state.path().join("home"))
        .env("KMSTOP_STATE_DIR", state.path())
        .args([
            "keys",
            "--endpoint-url",
            &sim.endpoint(),
            "--region",
            "us-east-1,eu-west-1",
            "--format",
            "json",
        ])
        .output()
        .expect("run kmstop keys");
    let ran_to = SystemClock.now();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let want = expected(&sim, ran_from);
    assert!(
        want.iter()
            .any(|k| k.state.as_deref() == Some("PendingDeletion"))
    );
    assert!(want.iter().any(|k| k.key_manager.as_deref() == Some("AWS")));
    assert_keys_json(
        &printed,
        &want,
        RanBetween {
            start: ran_from,
            end: ran_to,
        },
    );
}

/// `kmstop keys` against the simulator with a state directory; its JSON.
fn keys_json(
    sim: &SimHandle,
    state: &std::path::Path,
    extra: &[&str],
) -> (serde_json::Value, String) {
    let (stdout, stderr) = keys_out(sim, state, "json", extra);
    (serde_json::from_str(&stdout).expect("JSON"), stderr)
}

/// `kmstop keys --format FORMAT` against the simulator: stdout, stderr.
fn keys_out(
    sim: &SimHandle,
    state: &std::path::Path,
    format: &str,
    extra: &[&str],
) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kmstop"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", state.join("home"))
        .env("KMSTOP_STATE_DIR", state)
        .args([
            "keys",
            "--endpoint-url",
            &sim.endpoint(),
            "--region",
            "us-east-1,eu-west-1",
            "--format",
            format,
        ])
        .env("COLUMNS", "200")
        .args(extra)
        .output()
        .expect("run kmstop keys");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// `last_used` with its operation and event id, by key ARN.
fn last_used(printed: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    printed
        .as_array()
        .expect("an array")
        .iter()
        .map(|k| {
            (
                k["arn"].as_str().expect("arn").to_owned(),
                serde_json::json!([
                    k["last_used"],
                    k["last_used_operation"],
                    k["last_used_event_id"]
                ]),
            )
        })
        .collect()
}

fn last_usage_calls(sim: &SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.target.ends_with("GetKeyLastUsage"))
        .count()
}

/// Running `keys` twice in a row, as people do, against an account whose
/// `GetKeyLastUsage` quota is a few a second (the simulator's is 5/s per
/// region): neither run is throttled into warnings or unknown last uses —
/// kmstop paces its calls — and the second asks no `GetKeyLastUsage` at
/// all: the answers come from the first run's cache file (0600).
#[test]
fn keys_twice_in_a_row_is_not_throttled_and_reuses_last_use() {
    let start = SystemClock.now();
    let sim = Sim::start(SimOptions {
        seed: 5,
        history: Duration::from_mins(3),
        events_until: Some(start),
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let state = tempfile::tempdir().expect("state dir");
    let (first, stderr) = keys_json(&sim, state.path(), &[]);
    assert!(stderr.is_empty(), "the first run warned: {stderr}");
    let used = last_used(&first);
    let known = used.values().filter(|v| !v[0].is_null()).count();
    // KMS names the operation and the event of every use it knows of.
    assert!(
        used.values()
            .filter(|v| !v[0].is_null())
            .all(|v| v[1].is_string() && v[2].is_string()),
        "{used:?}"
    );
    let want = expected(&sim, start)
        .iter()
        .filter(|k| k.last_used.is_some())
        .count();
    assert_eq!(known, want, "last_used known for every key KMS knows it of");
    let asked = last_usage_calls(&sim);
    assert!(asked > 0);

    let (second, stderr) = keys_json(&sim, state.path(), &[]);
    assert!(stderr.is_empty(), "the second run warned: {stderr}");
    assert_eq!(last_used(&second), used);
    assert_eq!(
        last_usage_calls(&sim),
        asked,
        "the second run asked GetKeyLastUsage again"
    );
    for region in ["us-east-1", "eu-west-1"] {
        let file = state
            .path()
            .join(format!("cache/last-used-111122223333-{region}.json"));
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }
}

/// `kmstop keys --unused AGE`: exactly the customer-managed keys the
/// simulator's `GetKeyLastUsage` says were not used in AGE (tracked since
/// before it), and every key whose use cannot be known named on stderr.
#[test]
fn unused_keys_are_the_deletion_candidates_kms_can_vouch_for() {
    let start = SystemClock.now();
    let sim = Sim::start(SimOptions {
        seed: 5,
        history: Duration::from_mins(3),
        events_until: Some(start),
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let state = tempfile::tempdir().expect("state dir");
    let (printed, stderr) = keys_json(&sim, state.path(), &["--unused", "1h"]);
    let listed: std::collections::BTreeSet<String> = printed
        .as_array()
        .expect("an array")
        .iter()
        .map(|k| k["arn"].as_str().expect("arn").to_owned())
        .collect();

    let world = sim.world();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cutoff = start - chrono::Duration::hours(1);
    let mut want = std::collections::BTreeSet::new();
    // Never used since KMS began tracking: the day tracking began.
    let mut never = BTreeMap::new();
    let mut unknown = Vec::new();
    for key in world.keys.iter().filter(|k| !k.aws_managed) {
        // Named as a person names it: its first alias, else its id.
        let index = world
            .keys
            .iter()
            .position(|k| k.arn() == key.arn())
            .unwrap_or(0);
        let mut aliases: Vec<String> = world
            .aliases_of(index)
            .iter()
            .map(|a| a.name.clone())
            .collect();
        aliases.sort();
        let name = aliases
            .first()
            .cloned()
            .unwrap_or_else(|| key.id().to_string());
        if key.denies_reader {
            unknown.push(name);
            continue;
        }
        // The simulator tracks from the key's creation, or 120 days back.
        let tracked_since = key.created.max(world.origin - chrono::Duration::days(120));
        match rt.block_on(last_usage(&sim, key.region(), key.id())) {
            Some(used) if used <= cutoff => {
                want.insert(key.arn());
            }
            Some(_) => {}
            None if tracked_since <= cutoff => {
                want.insert(key.arn());
                never.insert(key.arn(), tracked_since.format("%Y-%m-%d").to_string());
            }
            None => unknown.push(name),
        }
    }
    assert!(!want.is_empty(), "the world has unused keys");
    assert!(
        !unknown.is_empty(),
        "the world has a key that refuses the reader"
    );
    assert_eq!(listed, want, "{stderr}");
    assert!(stderr.contains("left out"), "{stderr}");
    for name in &unknown {
        assert!(stderr.contains(name.as_str()), "{name} named: {stderr}");
    }

    // A key KMS saw no use of says since when, in JSON and in the table:
    // "none since DAY", not "?".
    assert!(!never.is_empty(), "the world has never-used keys");
    for k in printed.as_array().expect("an array") {
        let arn = k["arn"].as_str().expect("arn");
        let since = k["last_used_tracked_since"].as_str();
        match never.get(arn) {
            Some(day) => {
                assert!(k["last_used"].is_null(), "{k}");
                assert_eq!(since.map(|s| &s[..10]), Some(day.as_str()), "{k}");
            }
            None => assert!(!k["last_used"].is_null(), "{k}"),
        }
    }
    let (table, _) = keys_out(&sim, state.path(), "table", &["--unused", "1h"]);
    for day in never.values() {
        assert!(
            table.contains(&format!("none since {day}")),
            "{day} in\n{table}"
        );
    }
    let (csv, _) = keys_out(&sim, state.path(), "csv", &["--unused", "1h"]);
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.ends_with(",last_used_tracked_since")),
        "{csv}"
    );
}

/// `kmstop keys --verdict 1h`: each key's verdict over the simulator's
/// event history, as the dashboard's drill gives it — its newest use is a
/// call the simulator made, no more uses than it made, a used key is "in
/// use", an unused one is not — in JSON, the table and CSV.
#[test]
fn the_verdict_is_given_headless_from_the_event_history() {
    let start = SystemClock.now();
    let sim = Sim::start(SimOptions {
        seed: 11,
        history: Duration::from_mins(3),
        events_until: Some(start),
        record_own_calls: false,
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let state = tempfile::tempdir().expect("state dir");
    let (printed, stderr) = keys_json(&sim, state.path(), &["--verdict", "1h"]);
    let rows = printed.as_array().expect("an array");
    assert_eq!(rows.len(), sim.world().keys.len(), "{stderr}");
    let truth: Vec<_> = ["us-east-1", "eu-west-1"]
        .iter()
        .flat_map(|r| sim.ground_truth(r, start - chrono::Duration::hours(2), SystemClock.now()))
        .collect();
    let crypto_ok = truth
        .iter()
        .filter(|e| e.error_code.is_none() && kmstop::deletion::is_cryptographic(&e.event_name))
        .count() as u64;
    let mut uses = 0;
    let mut in_use = 0;
    for k in rows {
        let n = k["uses"].as_u64().expect("uses");
        uses += n;
        let safety = k["safety"].as_str().expect("safety");
        assert!(
            ["in use", "not safe", "unknown", "no use seen"].contains(&safety),
            "{k}"
        );
        assert!(
            k["headline"]
                .as_str()
                .is_some_and(|h| h.starts_with(safety)),
            "{k}"
        );
        if n > 0 {
            in_use += 1;
            assert_eq!(safety, "in use", "{k}");
            let last = &k["last_use"];
            let seen = truth.iter().any(|e| {
                e.principal == last["principal"].as_str().unwrap_or_default()
                    && e.event_name == last["event_name"].as_str().unwrap_or_default()
                    && e.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                        == last["time"].as_str().unwrap_or_default()
            });
            assert!(seen, "the last use is a call the simulator made: {k}");
            assert!(
                k["evidence"][0]
                    .as_str()
                    .is_some_and(|l| l.contains(&format!("{n} cryptographic call(s)"))),
                "{k}"
            );
        } else if safety == "in use" {
            // Only KMS's own record of a use inside the window says so.
            assert_eq!(
                k["headline"], "in use: KMS recorded a use within the window",
                "{k}"
            );
            assert!(
                k["kms_last_used"].as_str() >= k["window_from"].as_str(),
                "{k}"
            );
        }
        assert!(
            k["evidence"].as_array().is_some_and(|e| e.iter().any(|l| l
                .as_str()
                .is_some_and(|l| l.starts_with("AWS services (invokedBy)")))),
            "{k}"
        );
    }
    assert!(in_use > 0, "the history uses some keys: {printed:#}");
    assert!(uses <= crypto_ok, "{uses} uses counted, {crypto_ok} made");

    let (table, _) = keys_out(&sim, state.path(), "table", &["--verdict", "1h", "--all"]);
    assert!(table.contains("delete? in use: used "), "{table}");
    assert!(table.contains("· KMS last use:"), "{table}");
    assert!(!table.contains('\u{1b}'), "{table:?}");
    let (csv, _) = keys_out(&sim, state.path(), "csv", &["--verdict", "1h"]);
    assert!(
        csv.lines().next().is_some_and(
            |h| h.starts_with("key_id,arn,account,region,aliases,state,safety,headline")
        ),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), rows.len() + 1, "{csv}");
}
