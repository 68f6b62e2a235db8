//! The simulator through the real AWS SDK clients over loopback HTTP:
//! LookupEvents paging against the ground truth, token binding, the rate
//! limit, regions from signatures, KMS reads of the world's keys, STS,
//! faults and dropped connections.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::primitives::DateTime as SdkTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_kms::config::Credentials;
use aws_types::SdkConfig;
use aws_types::app_name::AppName;
use chrono::{DateTime, Duration, Utc};
use kmstop::clock::ManualClock;
use kmstop::event::{Parsed, parse_record};
use kmstop::sim::{FaultKind, Faults, READ_ONLY_TARGETS, Scenario, Sim, SimHandle, SimOptions};

fn t0() -> DateTime<Utc> {
    "2026-03-02T14:00:00Z".parse().expect("time")
}

/// A simulator on a hand-moved clock at `t0`, with 10 minutes of history,
/// traffic stopping 3 minutes before `t0` and every event delivered
/// within a minute: an exact, fully visible ground truth.
fn frozen_sim(lookup_limited: bool) -> (SimHandle, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let sim = Sim::start(SimOptions {
        seed: 42,
        history: StdDuration::from_mins(10),
        events_until: Some(t0() - Duration::minutes(3)),
        delay_min: StdDuration::from_secs(1),
        delay_max: StdDuration::from_mins(1),
        lookup_rate: lookup_limited.then_some(kmstop::sim::Rate::LOOKUP_EVENTS),
        clock: clock.clone(),
        ..SimOptions::default()
    })
    .expect("sim");
    (sim, clock)
}

async fn config(sim: &SimHandle, region: &str, retries: bool) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(sim.endpoint())
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(Credentials::new("x", "x", None, None, "test"))
        .app_name(AppName::new("kmstop").expect("app name"))
        .retry_config(if retries {
            RetryConfig::standard()
        } else {
            RetryConfig::disabled()
        })
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(StdDuration::from_secs(10))
                .build(),
        )
        .load()
        .await
}

fn kms_source() -> LookupAttribute {
    LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventSource)
        .attribute_value("kms.amazonaws.com")
        .build()
        .expect("attribute")
}

fn sdk_time(t: DateTime<Utc>) -> SdkTime {
    SdkTime::from_secs(t.timestamp())
}

#[tokio::test]
async fn lookup_events_pages_exactly_the_ground_truth_newest_first() {
    let (sim, _clock) = frozen_sim(false);
    let ct = aws_sdk_cloudtrail::Client::new(&config(&sim, "us-east-1", true).await);
    let (start, end) = (t0() - Duration::minutes(8), t0() - Duration::minutes(2));
    let mut pages = ct
        .lookup_events()
        .lookup_attributes(kms_source())
        .start_time(sdk_time(start))
        .end_time(sdk_time(end))
        .into_paginator()
        .send();
    let mut seen = Vec::new();
    let mut page_count = 0;
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        let events = page.events();
        assert!(events.len() <= 50);
        page_count += 1;
        for e in events {
            let record = e.cloud_trail_event().expect("record");
            let Ok(Parsed::Kms(parsed)) = parse_record(record) else {
                panic!("unparsable record {record}");
            };
            assert_eq!(Some(parsed.event_id.as_ref()), e.event_id());
            assert_eq!(Some(parsed.event_name.as_ref()), e.event_name());
            assert_eq!(parsed.region.as_deref(), Some("us-east-1"));
            assert_eq!(
                e.event_time().map(SdkTime::secs),
                Some(parsed.time.timestamp())
            );
            seen.push((parsed.time, e.event_id().unwrap_or_default().to_string()));
        }
    }
    let truth = sim.ground_truth("us-east-1", start, end);
    assert!(truth.len() > 500, "{}", truth.len());
    assert!(page_count >= truth.len().div_ceil(50));
    let want: Vec<(DateTime<Utc>, String)> =
        truth.iter().map(|t| (t.time, t.event_id.clone())).collect();
    assert_eq!(seen, want, "exactly the ground truth, newest first");
}

#[tokio::test]
async fn the_token_is_bound_to_its_request_and_checked() {
    let (sim, _clock) = frozen_sim(false);
    let ct = aws_sdk_cloudtrail::Client::new(&config(&sim, "us-east-1", false).await);
    let (start, end) = (t0() - Duration::minutes(8), t0() - Duration::minutes(2));
    let first = ct
        .lookup_events()
        .start_time(sdk_time(start))
        .end_time(sdk_time(end))
        .max_results(5)
        .send()
        .await
        .expect("first page");
    assert_eq!(first.events().len(), 5);
    let token = first.next_token().expect("token").to_string();
    // The same request continues; the first page's last event is not repeated.
    let second = ct
        .lookup_events()
        .start_time(sdk_time(start))
        .end_time(sdk_time(end))
        .max_results(5)
        .next_token(&token)
        .send()
        .await
        .expect("second page");
    assert_ne!(second.events()[0].event_id(), first.events()[4].event_id());
    // A moved window, another attribute, or garbage: InvalidNextTokenException.
    let moved = ct
        .lookup_events()
        .start_time(sdk_time(start + Duration::seconds(1)))
        .end_time(sdk_time(end))
        .next_token(&token)
        .send()
        .await
        .expect_err("moved window");
    assert!(moved.into_service_error().is_invalid_next_token_exception());
    let other = ct
        .lookup_events()
        .lookup_attributes(kms_source())
        .start_time(sdk_time(start))
        .end_time(sdk_time(end))
        .next_token(&token)
        .send()
        .await
        .expect_err("other attributes");
    assert!(other.into_service_error().is_invalid_next_token_exception());
    let garbage = ct
        .lookup_events()
        .next_token("bm9wZQ==")
        .send()
        .await
        .expect_err("garbage");
    assert!(
        garbage
            .into_service_error()
            .is_invalid_next_token_exception()
    );
    // The API reference's other checks.
    let two = ct
        .lookup_events()
        .lookup_attributes(kms_source())
        .lookup_attributes(kms_source())
        .send()
        .await
        .expect_err("two attributes");
    assert!(
        two.into_service_error()
            .is_invalid_lookup_attributes_exception()
    );
    let backwards = ct
        .lookup_events()
        .start_time(sdk_time(end))
        .end_time(sdk_time(start))
        .send()
        .await
        .expect_err("backwards");
    assert!(
        backwards
            .into_service_error()
            .is_invalid_time_range_exception()
    );
    let big = ct
        .lookup_events()
        .max_results(51)
        .send()
        .await
        .expect_err("51");
    assert!(big.into_service_error().is_invalid_max_results_exception());
}

#[tokio::test]
async fn more_than_two_lookups_a_second_are_throttled() {
    // A real clock: the bucket refills with real time.
    let sim = Sim::start(SimOptions {
        history: StdDuration::from_mins(1),
        ..SimOptions::default()
    })
    .expect("sim");
    let ct = aws_sdk_cloudtrail::Client::new(&config(&sim, "eu-west-1", false).await);
    let mut codes = Vec::new();
    for _ in 0..6 {
        match ct.lookup_events().max_results(1).send().await {
            Ok(_) => codes.push("ok".to_string()),
            Err(e) => codes.push(e.code().unwrap_or("?").to_string()),
        }
    }
    let throttled = codes.iter().filter(|c| *c == "ThrottlingException").count();
    assert!(throttled >= 3, "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| c == "ok" || c == "ThrottlingException"),
        "{codes:?}"
    );
    // Another region has its own bucket.
    let us = aws_sdk_cloudtrail::Client::new(&config(&sim, "us-east-1", false).await);
    us.lookup_events()
        .max_results(1)
        .send()
        .await
        .expect("us-east-1 is not throttled");
    // The SDK's standard retries ride out a throttle (with attempts
    // enough that jitter cannot make them all land in one empty second).
    let patient = config(&sim, "eu-west-1", true)
        .await
        .into_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(10))
        .build();
    let retrying = aws_sdk_cloudtrail::Client::new(&patient);
    retrying
        .lookup_events()
        .max_results(1)
        .send()
        .await
        .expect("retried");
}

#[tokio::test]
async fn the_region_comes_from_the_signature() {
    let (sim, _clock) = frozen_sim(false);
    for region in ["us-east-1", "eu-west-1"] {
        let conf = config(&sim, region, true).await;
        let ct = aws_sdk_cloudtrail::Client::new(&conf);
        let page = ct
            .lookup_events()
            .max_results(20)
            .send()
            .await
            .expect("page");
        assert_eq!(page.events().len(), 20);
        for e in page.events() {
            let record = e.cloud_trail_event().unwrap_or_default();
            assert!(
                record.contains(&format!("\"awsRegion\":\"{region}\"")),
                "{record}"
            );
        }
        let kms = aws_sdk_kms::Client::new(&conf);
        let keys = kms.list_keys().send().await.expect("keys");
        assert!(
            keys.keys()
                .iter()
                .all(|k| k.key_arn().unwrap_or_default().contains(region))
        );
    }
    let regions: BTreeSet<String> = sim.requests().into_iter().map(|r| r.region).collect();
    assert_eq!(
        regions,
        BTreeSet::from(["eu-west-1".into(), "us-east-1".into()])
    );
}

#[tokio::test]
async fn kms_reads_give_the_worlds_keys_and_are_recorded() {
    let (sim, clock) = frozen_sim(false);
    let region = "eu-west-1";
    let kms = aws_sdk_kms::Client::new(&config(&sim, region, true).await);
    let mut pages = kms.list_keys().limit(4).into_paginator().send();
    let mut arns = BTreeSet::new();
    while let Some(page) = pages.next().await {
        for k in page.expect("page").keys() {
            arns.insert(k.key_arn().unwrap_or_default().to_string());
        }
    }
    let world = sim.world();
    let want: BTreeSet<String> = world.keys_in(region).map(|(_, k)| k.arn()).collect();
    assert_eq!(arns, want);
    for (_, key) in world.keys_in(region) {
        let meta = kms
            .describe_key()
            .key_id(key.arn())
            .send()
            .await
            .expect("describe");
        let meta = meta.key_metadata().expect("metadata");
        assert_eq!(meta.key_id(), key.id());
        assert_eq!(
            meta.key_state().map(aws_sdk_kms::types::KeyState::as_str),
            Some(key.state)
        );
        assert_eq!(
            meta.key_spec().map(aws_sdk_kms::types::KeySpec::as_str),
            Some(key.key_spec)
        );
        assert_eq!(
            meta.deletion_date().is_some(),
            key.state == "PendingDeletion"
        );
    }
    // Key ids in every form KMS accepts.
    let payments = &world.keys[world.key_named(region, "payments").expect("payments")];
    for form in [
        payments.id().to_string(),
        payments.arn(),
        "alias/payments".to_string(),
        format!("arn:aws:kms:{region}:{}:alias/payments", world.account),
    ] {
        let status = kms
            .get_key_rotation_status()
            .key_id(&form)
            .send()
            .await
            .expect("rotation");
        assert!(status.key_rotation_enabled());
        assert_eq!(status.rotation_period_in_days(), Some(180));
    }
    per_key_answers(&kms).await;
    assert_own_calls_recorded(&sim, &clock, region, want.len()).await;
}

/// Per-key failures and the other read calls, as KMS answers them.
async fn per_key_answers(kms: &aws_sdk_kms::Client) {
    let missing = kms
        .describe_key()
        .key_id("alias/nope")
        .send()
        .await
        .expect_err("missing");
    assert!(missing.into_service_error().is_not_found_exception());
    let hmac = kms
        .get_key_rotation_status()
        .key_id("alias/api-tokens")
        .send()
        .await;
    assert!(
        hmac.expect_err("hmac")
            .into_service_error()
            .is_unsupported_operation_exception()
    );
    let denied = kms.get_key_policy().key_id("alias/hr-payroll").send().await;
    assert_eq!(
        denied.expect_err("denied").code(),
        Some("AccessDeniedException")
    );
    let policy = kms
        .get_key_policy()
        .key_id("alias/partner-share")
        .send()
        .await
        .expect("policy");
    assert!(
        policy
            .policy()
            .unwrap_or_default()
            .contains("\"Principal\": \"*\"")
    );
    let aliases = kms.list_aliases().send().await.expect("aliases");
    let names: BTreeSet<&str> = aliases
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .collect();
    assert!(
        names.contains("alias/aws/s3") && names.contains("alias/orders"),
        "{names:?}"
    );
    let of_key = kms
        .list_aliases()
        .key_id("alias/orders")
        .send()
        .await
        .expect("aliases of key");
    assert_eq!(of_key.aliases().len(), 1);
    let rotations = kms
        .list_key_rotations()
        .key_id("alias/orders")
        .send()
        .await
        .expect("rotations");
    assert!(!rotations.rotations().is_empty());
    let tags = kms
        .list_resource_tags()
        .key_id("alias/orders")
        .send()
        .await
        .expect("tags");
    assert!(tags.tags().iter().any(|t| t.tag_key() == "team"));
    kms.get_key_last_usage()
        .key_id("alias/orders")
        .send()
        .await
        .expect("last usage");
    // Mutations do not exist here.
    let mutation = kms
        .schedule_key_deletion()
        .key_id("alias/orders")
        .send()
        .await;
    assert_eq!(
        mutation.expect_err("mutation").code(),
        Some("UnknownOperationException")
    );
}

/// CloudTrail recorded the reads (one `DescribeKey` per key and the
/// failed one), with kmstop's user agent, and nothing but reads and the
/// one mutation attempt reached the simulator.
async fn assert_own_calls_recorded(
    sim: &SimHandle,
    clock: &ManualClock,
    region: &str,
    keys: usize,
) {
    clock.advance(Duration::minutes(3));
    let ct = aws_sdk_cloudtrail::Client::new(&config(sim, region, true).await);
    let describe = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventName)
        .attribute_value("DescribeKey")
        .build()
        .expect("attribute");
    let page = ct
        .lookup_events()
        .lookup_attributes(describe)
        .start_time(sdk_time(t0()))
        .send()
        .await
        .expect("own calls");
    // One per key, and the failed lookup of alias/nope.
    assert_eq!(page.events().len(), keys + 1);
    let failed = page
        .events()
        .iter()
        .filter(|e| {
            e.cloud_trail_event()
                .unwrap_or_default()
                .contains("\"errorCode\":\"NotFoundException\"")
        })
        .count();
    assert_eq!(failed, 1);
    for e in page.events() {
        let record = e.cloud_trail_event().unwrap_or_default();
        assert!(record.contains("app/kmstop"), "{record}");
        assert!(
            record.contains("assumed-role/kmstop-reader/kmstop"),
            "{record}"
        );
    }
    let log = sim.requests();
    let unknown: Vec<&str> = log
        .iter()
        .map(|r| r.target.as_str())
        .filter(|t| !READ_ONLY_TARGETS.contains(t))
        .collect();
    assert_eq!(unknown, ["TrentService.ScheduleKeyDeletion"]);
}

#[tokio::test]
async fn sts_names_the_reader_role() {
    let (sim, _clock) = frozen_sim(false);
    let sts = aws_sdk_sts::Client::new(&config(&sim, "eu-west-1", true).await);
    let me = sts.get_caller_identity().send().await.expect("identity");
    assert_eq!(me.account(), Some("111122223333"));
    assert_eq!(
        me.arn(),
        Some("arn:aws:sts::111122223333:assumed-role/kmstop-reader/kmstop")
    );
    assert!(me.user_id().unwrap_or_default().ends_with(":kmstop"));
    let logged = sim.requests().pop().expect("logged");
    assert_eq!(
        logged.target,
        "AWSSecurityTokenServiceV20110615.GetCallerIdentity"
    );
    assert_eq!(logged.region, "eu-west-1");
}

#[tokio::test]
async fn faults_come_at_their_rates_and_drops_are_dispatch_failures() {
    let clock = Arc::new(ManualClock::new(t0()));
    let sim = Sim::start(SimOptions {
        seed: 9,
        history: StdDuration::from_mins(1),
        faults: Faults {
            throttle: 0.15,
            server_error: 0.05,
            ..Faults::default()
        },
        kms_rate: None,
        clock,
        ..SimOptions::default()
    })
    .expect("sim");
    let kms = aws_sdk_kms::Client::new(&config(&sim, "us-east-1", false).await);
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..300 {
        let code = match kms.list_aliases().send().await {
            Ok(_) => "ok".to_string(),
            Err(e) => e.code().unwrap_or("?").to_string(),
        };
        *codes.entry(code).or_default() += 1;
    }
    let n = |c: &str| codes.get(c).copied().unwrap_or(0);
    assert!((25..70).contains(&n("ThrottlingException")), "{codes:?}");
    let server = n("InternalFailure") + n("ServiceUnavailable");
    assert!((5..30).contains(&server), "{codes:?}");
    assert_eq!(
        n("ok") + n("ThrottlingException") + server,
        300,
        "{codes:?}"
    );
    let logged = sim.requests();
    let injected = logged
        .iter()
        .filter(|r| r.fault == Some(FaultKind::Throttle))
        .count();
    assert_eq!(injected, n("ThrottlingException"));
    drop(sim);

    let sim = Sim::start(SimOptions {
        faults: Faults {
            drop: 1.0,
            ..Faults::default()
        },
        ..SimOptions::default()
    })
    .expect("sim");
    let ct = aws_sdk_cloudtrail::Client::new(&config(&sim, "us-east-1", false).await);
    let err = ct.lookup_events().send().await.expect_err("dropped");
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    assert_eq!(sim.requests()[0].status, 0);
}

// Measures real latency: the one place this test needs the wall clock.
#[allow(clippy::disallowed_methods)]
#[tokio::test]
async fn slow_answers_arrive_late_and_the_outage_region_fails() {
    let sim = Sim::start(SimOptions {
        scenario: Scenario::Outage,
        history: StdDuration::from_mins(1),
        faults: Faults {
            slow: 1.0,
            slow_by: StdDuration::from_millis(300),
            region: Some("us-east-1".into()),
            ..Faults::default()
        },
        ..SimOptions::default()
    })
    .expect("sim");
    let kms = aws_sdk_kms::Client::new(&config(&sim, "us-east-1", false).await);
    let started = std::time::Instant::now();
    kms.list_keys().send().await.expect("slow but fine");
    assert!(started.elapsed() >= StdDuration::from_millis(300));
    let failing = aws_sdk_kms::Client::new(&config(&sim, "eu-west-1", false).await);
    for _ in 0..5 {
        let err = failing.list_keys().send().await.expect_err("outage");
        let code = err.code().unwrap_or_default().to_string();
        assert!(
            code == "ThrottlingException" || code == "ServiceUnavailable",
            "{code}"
        );
    }
}
