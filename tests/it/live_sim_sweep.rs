//! `report --source aws` and `doctor` through the real AWS SDK against
//! the loopback simulator: the sweep of two regions reaches exact totals
//! at close to the minimum of requests, every request kmstop sends is a
//! read, `doctor` names a trail that leaves KMS events out, and `tail
//! --alerts` fires the incident's rules. (Split from `live_sim.rs`.)

// Deadlines bound the waits on real processes; the code under test still
// takes its time from a Clock.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kmstop::sim::{READ_ONLY_TARGETS, Scenario, Sim, SimOptions};

use super::live_sim::{Lines, kmstop, now, stop, tail};
#[test]
fn report_sweeps_two_regions_exactly_at_close_to_the_minimum_of_requests() {
    let start = now();
    let sim = Sim::start(SimOptions {
        seed: 7,
        scenario: Scenario::Default,
        history: Duration::from_mins(6),
        events_until: Some(start),
        delay_min: Duration::from_secs(0),
        delay_max: Duration::from_secs(1),
        record_own_calls: false,
        ..SimOptions::default()
    })
    .expect("start the simulator");
    // Let the last events become visible.
    std::thread::sleep(Duration::from_secs(2));
    let since = start - chrono::Duration::minutes(5);
    let output = kmstop()
        .args([
            "report",
            "--source",
            "aws",
            "--endpoint-url",
            &sim.endpoint(),
            "--region",
            "us-east-1,eu-west-1",
            "--since",
            &since.to_rfc3339(),
            "--until",
            &start.to_rfc3339(),
            "--format",
            "json",
        ])
        .output()
        .expect("run kmstop report");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");

    let mut truth = Vec::new();
    for region in ["us-east-1", "eu-west-1"] {
        truth.extend(sim.ground_truth(region, since, start));
    }
    assert_eq!(report["events"].as_u64(), Some(truth.len() as u64));
    let mut by_principal: BTreeMap<String, u64> = BTreeMap::new();
    for e in &truth {
        *by_principal.entry(e.principal.clone()).or_default() += 1;
    }
    let reported: BTreeMap<String, u64> = report["principals"]
        .as_array()
        .expect("principals")
        .iter()
        .map(|p| {
            (
                p["principal"].as_str().expect("principal").to_string(),
                p["events"].as_u64().expect("events"),
            )
        })
        .collect();
    assert_eq!(reported, by_principal);

    // One page holds 50 events: a sweep cannot do with fewer requests.
    for region in ["us-east-1", "eu-west-1"] {
        let events = truth.iter().filter(|e| e.region == region).count();
        let minimum = events.div_ceil(50).max(1);
        let sent = sim
            .requests()
            .iter()
            .filter(|r| {
                r.region == region && r.target.ends_with("LookupEvents") && r.error.is_none()
            })
            .count();
        assert!(
            sent * 10 <= minimum * 11,
            "{region}: {sent} successful requests for {events} events (minimum {minimum})"
        );
    }
}

#[test]
fn every_request_of_the_live_commands_is_a_read() {
    let sim = Sim::start(SimOptions {
        seed: 3,
        history: Duration::from_mins(3),
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let endpoint = sim.endpoint();
    let regions = "us-east-1,eu-west-1";
    for args in [
        vec!["keys", "--format", "json"],
        vec!["doctor"],
        vec![
            "report", "--source", "aws", "--since", "2m", "--format", "json",
        ],
    ] {
        let output = kmstop()
            .args(&args)
            .args(["--endpoint-url", &endpoint, "--region", regions])
            .output()
            .expect("run kmstop");
        assert!(
            output.status.success(),
            "kmstop {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let state = tempfile::tempdir().expect("tempdir");
    let mut child = tail(&sim, state.path(), false);
    let lines = Lines::follow(&mut child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while lines.ids().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(child);

    let requests = sim.requests();
    assert!(requests.len() > 10, "only {} requests", requests.len());
    let targets: HashSet<&str> = requests.iter().map(|r| r.target.as_str()).collect();
    for target in &targets {
        assert!(
            READ_ONLY_TARGETS.contains(target),
            "{target} is not on the read-only allow-list"
        );
        let op = target.rsplit('.').next().unwrap_or(target);
        // `S3.HeadBucket` finds the trail bucket's region (s3:ListBucket);
        // CloudWatch Logs' two reads are named for what they do.
        assert!(
            ["Lookup", "List", "Describe", "Get", "Head"]
                .iter()
                .any(|p| op.starts_with(p))
                || ["FilterLogEvents", "StartLiveTail"].contains(&op),
            "{target} is not a read"
        );
    }
    assert!(targets.iter().any(|t| t.ends_with("LookupEvents")));
    assert!(targets.iter().any(|t| t.ends_with("ListKeys")));
    // doctor checks the trail's log group can be searched.
    assert!(
        targets.contains("Logs_20140328.FilterLogEvents"),
        "{targets:?}"
    );
    // tail follows the trail too, by default.
    assert!(targets.contains("S3.ListObjectsV2"), "{targets:?}");
    assert!(requests.iter().all(|r| {
        r.user_agent
            .as_deref()
            .is_some_and(|ua| ua.contains("app/kmstop"))
    }));
}

#[test]
fn doctor_says_when_a_trail_leaves_kms_events_out_and_how_to_fix_it() {
    let sim = Sim::start(SimOptions {
        trail: kmstop::sim::TrailSetup {
            excludes_kms: true,
            advanced_selectors: false,
        },
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let output = kmstop()
        .args([
            "doctor",
            "--endpoint-url",
            &sim.endpoint(),
            "--region",
            "us-east-1",
        ])
        .output()
        .expect("run kmstop doctor");
    let text = String::from_utf8_lossy(&output.stdout);
    // A warning is said and counted, and is not a pass (issue 12).
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("1 warning: kmstop works"), "{text}");
    assert!(!text.contains("All checks passed"), "{text}");
    assert!(
        text.contains("ok    credentials: arn:aws:sts::111122223333:"),
        "{text}"
    );
    assert!(text.contains("ok    cloudtrail:LookupEvents"), "{text}");
    assert!(
        text.contains("leaves KMS events out of its log files"),
        "{text}"
    );
    assert!(text.contains("fix: live mode is unaffected"), "{text}");

    // Credentials that do not work: a failure, with what to do.
    let output = kmstop()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args([
            "doctor",
            "--endpoint-url",
            &sim.endpoint(),
            "--region",
            "us-east-1",
        ])
        .output()
        .expect("run kmstop doctor");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  credentials") && text.contains("aws configure"),
        "{text}"
    );

    // A trail that logs KMS events, in a bucket kmstop may list: the live
    // view will read it.
    let sim = Sim::start(SimOptions::default()).expect("start the simulator");
    let output = kmstop()
        .args([
            "doctor",
            "--endpoint-url",
            &sim.endpoint(),
            "--region",
            "us-east-1",
        ])
        .output()
        .expect("run kmstop doctor");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("ok    s3:ListBucket on aws-cloudtrail-logs-111122223333-5c1e9a3b"),
        "{text}"
    );
    assert!(
        text.contains("ok    logs:FilterLogEvents on logs://aws-cloudtrail-logs-111122223333"),
        "{text}"
    );
}

#[test]
fn tail_alerts_fires_the_spike_of_the_incident_and_the_inventory_rule() {
    let sim = Sim::start(SimOptions {
        seed: 11,
        history: Duration::from_mins(5),
        delay_min: Duration::from_secs(1),
        delay_max: Duration::from_secs(3),
        record_own_calls: false,
        ..SimOptions::default()
    })
    .expect("start the simulator");
    let state = tempfile::tempdir().expect("tempdir");
    let mut child = kmstop()
        .args([
            "tail",
            "--alerts",
            "--endpoint-url",
            &sim.endpoint(),
            "--region",
            "us-east-1,eu-west-1",
            "--backfill",
            "5m",
            "--poll-interval",
            "2s",
        ])
        .env("KMSTOP_STATE_DIR", state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kmstop tail --alerts");
    let out = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let sink = Arc::clone(&out);
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v = serde_json::from_str(&line).expect("alert changes are JSON lines");
            sink.lock().expect("lock").push(v);
        }
    });
    let fired = |rule: &str| {
        out.lock()
            .expect("lock")
            .iter()
            .any(|v| v["change"] == "fired" && v["alert"]["rule"] == rule)
    };
    // The incident starts 30 s after the simulator and lasts a minute.
    let deadline = Instant::now() + Duration::from_mins(2);
    while !(fired("unauthorized-decrypt-spike") && fired("pending-deletion-key-in-use"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    stop(child);
    let seen: Vec<String> = out
        .lock()
        .expect("lock")
        .iter()
        .map(|v| format!("{} {}", v["change"], v["alert"]["rule"]))
        .collect();
    assert!(
        fired("unauthorized-decrypt-spike"),
        "alert changes: {seen:?}"
    );
    assert!(
        fired("pending-deletion-key-in-use"),
        "alert changes: {seen:?}"
    );
    assert!(
        !fired("decrypt-volume-spike"),
        "the backfill is not a spike: {seen:?}"
    );
}
