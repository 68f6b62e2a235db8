//! boto3, a client nobody on the project wrote, against the simulator:
//! `tests/sim/boto3_conformance.py` pages LookupEvents, reads KMS and STS,
//! the trail's S3 bucket and its CloudWatch Logs group, and must see
//! exactly what the simulator says it holds; then it reads a Live Tail
//! stream while the test moves the simulator's clock.

use std::process::{Child, Command, Stdio};
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

/// Starts the conformance script on `truth`.
fn script(
    sim: &kmstop::sim::SimHandle,
    truth: &Value,
    extra: &[&str],
) -> (Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("truth.json");
    std::fs::write(&path, truth.to_string()).expect("write truth");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sim/boto3_conformance.py"
    );
    let child = Command::new("python3")
        .arg(script)
        .arg(sim.endpoint())
        .arg(&path)
        .args(extra)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    (child, dir)
}

/// The script's stdout once it exited 0; panics with its output otherwise.
fn succeeded(child: Child) -> String {
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "boto3 disagrees:\n{stdout}\n{stderr}"
    );
    stdout
}

/// The log group's part of the truth file: every event it holds now.
fn log_truth(sim: &kmstop::sim::SimHandle, lag: Duration) -> (Value, usize) {
    let world = sim.world();
    let (name, arn) = sim.log_group();
    assert_eq!(name, kmstop::sim::trail_log_group(&world.account));
    assert_eq!(name, format!("aws-cloudtrail-logs-{}", world.account));
    let home = world.regions[0].clone();
    assert_eq!(
        arn,
        format!("arn:aws:logs:{home}:{}:log-group:{name}", world.account)
    );
    let (from, through) = sim.log_coverage();
    let events: Vec<_> = world
        .regions
        .iter()
        .flat_map(|r| sim.ground_truth(r, from, through))
        .collect();
    let decrypts: Vec<&str> = events
        .iter()
        .filter(|e| e.event_name == "Decrypt")
        .map(|e| e.event_id.as_str())
        .collect();
    let truth = json!({
        "account": world.account,
        "log_group": name,
        "log_group_arn": arn,
        "log_region": home,
        "log_lag_ms": lag.num_milliseconds(),
        "log_event_ids": events.iter().map(|t| t.event_id.as_str()).collect::<Vec<_>>(),
        "log_decrypt_ids": decrypts,
    });
    (truth, events.len())
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
        logs_rate: None,
        clock: Arc::new(ManualClock::new(t0)),
        ..SimOptions::default()
    })
    .expect("sim");
    let region = "eu-west-1";
    let (logs, log_events) = log_truth(&sim, SimOptions::default().logs_lag);
    assert!(log_events > trail_events_floor(&sim), "{log_events}");
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
    let mut expected = json!({
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
    if let (Value::Object(all), Value::Object(logs)) = (&mut expected, logs) {
        all.extend(logs);
    }
    let (mut child, _dir) = script(&sim, &expected, &[]);
    if child
        .wait_timeout(StdDuration::from_mins(3))
        .expect("wait")
        .is_none()
    {
        let _ = child.kill();
        panic!("boto3_conformance.py did not finish within 180 s");
    }
    let stdout = succeeded(child);
    assert!(
        stdout.contains(&format!("{} events", truth.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("with {} events", trail.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("a log group of {log_events} events")),
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

/// Some events of the group: more than one region's five minutes.
fn trail_events_floor(sim: &kmstop::sim::SimHandle) -> usize {
    let (from, through) = sim.trail_coverage();
    sim.ground_truth(&sim.world().regions[0], from, through)
        .len()
}

#[test]
#[allow(clippy::disallowed_methods)] // deadlines for a real server and process
fn boto3_reads_a_live_tail_while_the_clock_moves() {
    assert!(
        boto3_available(),
        "boto3 is missing: pip install boto3 (scripts/test installs it)"
    );
    let t0: DateTime<Utc> = "2026-03-02T14:00:00Z".parse().expect("time");
    let clock = Arc::new(ManualClock::new(t0));
    let lag = Duration::seconds(2);
    let sim = Sim::start(SimOptions {
        seed: 78,
        regions: vec!["eu-west-1".into(), "us-east-1".into()],
        history: StdDuration::from_mins(2),
        logs_lag: lag,
        logs_rate: None,
        lookup_rate: None,
        clock: clock.clone(),
        ..SimOptions::default()
    })
    .expect("sim");
    let (truth, _) = log_truth(&sim, lag);
    let (mut child, _dir) = script(&sim, &truth, &["live-tail"]);
    // The session sends an update every (real) second with what the
    // simulator's clock says was ingested since: move it a few seconds per
    // real second until boto3 has read events.
    let deadline = std::time::Instant::now() + StdDuration::from_mins(2);
    loop {
        if child
            .wait_timeout(StdDuration::from_millis(250))
            .expect("wait")
            .is_some()
        {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "the live tail read no events within 120 s:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        clock.advance(Duration::seconds(1));
    }
    let stdout = succeeded(child);
    assert!(stdout.contains("sessionStart"), "{stdout}");
    assert!(!stdout.contains(" 0 events"), "{stdout}");
    // boto3 closed its stream: the session ends.
    let deadline = std::time::Instant::now() + StdDuration::from_secs(30);
    while sim.live_tail_sessions() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the session outlived its client by 30 s"
        );
        std::thread::sleep(StdDuration::from_millis(50));
    }
    let targets: Vec<String> = sim.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["Logs_20140328.StartLiveTail"], "{targets:?}");
}
