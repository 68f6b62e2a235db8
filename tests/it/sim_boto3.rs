//! boto3, a client nobody on the project wrote, against the simulator:
//! `tests/sim/boto3_conformance.py` pages LookupEvents, reads KMS and STS
//! and the trail's S3 bucket, and must see exactly what the simulator says
//! it holds.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use kmstop::clock::ManualClock;
use kmstop::sim::world::{Rotation, SimKey};
use kmstop::sim::{Sim, SimOptions};
use serde_json::{Value, json};
use wait_timeout::ChildExt;

fn expected_rotation(key: &SimKey) -> Value {
    if key.denies_reader {
        return json!({"error": "AccessDeniedException"});
    }
    match key.rotation {
        Rotation::Unsupported => json!({"error": "UnsupportedOperationException"}),
        Rotation::On { period_days } if key.state != "PendingDeletion" => {
            json!({"enabled": true, "period": period_days})
        }
        _ => json!({"enabled": false, "period": null}),
    }
}

fn boto3_available() -> bool {
    Command::new("python3")
        .args(["-c", "import boto3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn boto3_reads_exactly_what_the_simulator_holds() {
    assert!(
        boto3_available(),
        "boto3 is missing: pip install boto3 (scripts/test installs it)"
    );
    let t0: DateTime<Utc> = "2026-03-02T14:00:00Z".parse().expect("time");
    let sim = Sim::start(SimOptions {
        seed: 77,
        regions: vec!["eu-west-1".into(), "us-east-1".into()],
        history: StdDuration::from_mins(10),
        events_until: Some(t0 - Duration::minutes(3)),
        delay_min: StdDuration::from_secs(1),
        delay_max: StdDuration::from_mins(1),
        lookup_rate: None,
        clock: Arc::new(ManualClock::new(t0)),
        ..SimOptions::default()
    })
    .expect("sim");
    let region = "eu-west-1";
    let (start, end) = (t0 - Duration::minutes(7), t0 - Duration::minutes(2));
    let truth = sim.ground_truth(region, start, end);
    assert!(truth.len() > 100, "{}", truth.len());
    let world = sim.world();
    let keys: Vec<Value> = world
        .keys_in(region)
        .map(|(_, k)| {
            json!({"arn": k.arn(), "id": k.id(), "state": k.state, "key_spec": k.key_spec,
                "rotation": expected_rotation(k)})
        })
        .collect();
    let aliases: Vec<&str> = world.aliases_in(region).map(|a| a.name.as_str()).collect();
    let (trail_from, trail_through) = sim.trail_coverage();
    let trail = sim.ground_truth(region, trail_from, trail_through);
    assert!(trail.len() > truth.len(), "{} {}", trail.len(), truth.len());
    let expected = json!({
        "region": region,
        "start": start.timestamp(),
        "end": end.timestamp(),
        "event_ids": truth.iter().map(|t| t.event_id.as_str()).collect::<Vec<_>>(),
        "account": world.account,
        "reader_arn": format!("arn:aws:sts::{}:assumed-role/kmstop-reader/kmstop", world.account),
        "keys": keys,
        "aliases": aliases,
        "trail_bucket": kmstop::sim::trail_bucket(&world.account),
        "trail_event_ids": trail.iter().map(|t| t.event_id.as_str()).collect::<Vec<_>>(),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("truth.json");
    std::fs::write(&path, expected.to_string()).expect("write truth");

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sim/boto3_conformance.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .arg(sim.endpoint())
        .arg(&path)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let Some(status) = child
        .wait_timeout(StdDuration::from_secs(90))
        .expect("wait")
    else {
        let _ = child.kill();
        panic!("boto3_conformance.py did not finish within 90 s");
    };
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(status.success(), "boto3 disagrees:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{} events", truth.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("with {} events", trail.len())),
        "{stdout}"
    );
    // boto3 asked only for reads.
    for r in sim.requests() {
        assert!(
            kmstop::sim::READ_ONLY_TARGETS.contains(&r.target.as_str()),
            "{r:?}"
        );
    }
}
