//! Paging, single-key reads, the last-usage cache and the poller.

use super::*;

#[tokio::test]
async fn list_keys_reads_every_page() {
    let pages = mock!(Client::list_keys)
        .match_requests(|r| r.limit() == Some(1000))
        .then_compute_output(|r| {
            let (ids, next): (&[&str], Option<&str>) = match r.marker() {
                None => (&[A], Some("m1")),
                Some("m1") => (&[B], Some("m2")),
                _ => (&[RSA], None),
            };
            ListKeysOutput::builder()
                .set_keys(Some(
                    ids.iter()
                        .map(|id| KeyListEntry::builder().key_id(*id).key_arn(arn(id)).build())
                        .collect(),
                ))
                .truncated(next.is_some())
                .set_next_marker(next.map(str::to_string))
                .build()
        });
    let reader = reader(&[&pages]);
    let keys = reader.list_keys().await.expect("all pages");
    let ids: Vec<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(ids, [A, B, RSA]);
    assert_eq!(pages.num_calls(), 3);
}

#[tokio::test]
async fn one_key_is_read_afresh_with_its_aliases() {
    let missing = mock!(Client::describe_key)
        .match_requests(|r| r.key_id() == Some("gone"))
        .then_http_response(|| aws_error(400, "NotFoundException"));
    let rules = [
        missing,
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let mut cache = LastUsageCache::default();
    let (facts, problems) = fetch_key(&reader, &source(), &arn(A), &mut cache, now())
        .await
        .expect("read")
        .expect("key exists");
    assert!(problems.is_empty());
    assert_eq!(facts.key_id.as_deref(), Some(A));
    assert_eq!(facts.arn, arn(A));
    assert_eq!(facts.aliases, ["alias/alpha", "alias/zeta"]);
    assert_eq!(facts.rotation_period_days, Some(180));
    let gone = fetch_key(&reader, &source(), "gone", &mut cache, now())
        .await
        .expect("not found is not an error");
    assert_eq!(gone, None);
}

#[tokio::test]
async fn last_usage_is_cached_for_an_hour() {
    let usage = last_usage_ok();
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&usage);
    let reader = reader(&all);
    let mut cache = LastUsageCache::default();
    for minutes in [0, 10, 59] {
        let at = now() + chrono::Duration::minutes(minutes);
        let inv = fetch_region(&reader, &source(), &mut cache, at)
            .await
            .expect("read");
        assert_eq!(
            by_id(&inv.keys, A).last_used,
            Some(t("2026-02-28T10:00:00Z")),
            "{minutes}"
        );
    }
    assert_eq!(usage.num_calls(), 2, "once per key within the hour");
    fetch_region(
        &reader,
        &source(),
        &mut cache,
        now() + chrono::Duration::minutes(61),
    )
    .await
    .expect("read");
    assert_eq!(usage.num_calls(), 4, "asked again after the hour");
}

#[tokio::test]
async fn an_endpoint_without_last_usage_leaves_it_unknown() {
    let unknown = mock!(Client::get_key_last_usage)
        .then_http_response(|| aws_error(400, "UnknownOperationException"));
    let rules = [
        list_keys(&[A]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&unknown);
    let reader = reader(&all);
    let mut cache = LastUsageCache::default();
    let inv = fetch_region(&reader, &source(), &mut cache, now())
        .await
        .expect("read");
    let a = by_id(&inv.keys, A);
    assert_eq!(a.last_used, None);
    assert!(
        a.unreadable.is_empty(),
        "unknown, not unreadable: {:?}",
        a.unreadable
    );
    assert!(inv.problems.is_empty());
    fetch_region(&reader, &source(), &mut cache, now())
        .await
        .expect("read");
    assert_eq!(
        unknown.num_calls(),
        1,
        "not asked again while the answer is fresh"
    );
}

#[tokio::test]
async fn a_failing_last_usage_is_one_problem_and_keeps_the_keys() {
    // moto answers operations it lacks with a bare HTML 500.
    let broken = mock!(Client::get_key_last_usage).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(500).expect("status"),
            SdkBody::from("<html>Internal Server Error</html>"),
        )
    });
    let rules = [
        list_keys(&[A, B, RSA]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&broken);
    let inv = fetch_region(
        &reader(&all),
        &source(),
        &mut LastUsageCache::default(),
        now(),
    )
    .await
    .expect("read");
    assert_eq!(inv.keys.len(), 3);
    assert!(
        inv.keys
            .iter()
            .all(|k| k.last_used.is_none() && k.state.is_some())
    );
    assert_eq!(inv.problems.len(), 1, "{:?}", inv.problems);
    assert!(
        inv.problems[0].contains("GetKeyLastUsage"),
        "{}",
        inv.problems[0]
    );
}

#[tokio::test]
async fn the_poller_sends_the_region_then_single_keys_on_request() {
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let (tx, mut rx) = mpsc::channel(4);
    let clock = Arc::new(FixedClock(now()));
    let (handle, task) = spawn(reader, source(), Duration::from_hours(1), clock, tx);
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a full read in time")
        .expect("an update");
    let SourceMsg::Keys { keys, complete, .. } = first else {
        panic!("expected keys, got {first:?}");
    };
    assert!(complete);
    assert_eq!(keys.len(), 2);
    assert!(handle.refresh_key(B));
    let second = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the key in time")
        .expect("an update");
    let SourceMsg::Keys {
        keys,
        complete,
        source: from,
    } = second
    else {
        panic!("expected keys, got {second:?}");
    };
    assert!(!complete);
    assert_eq!(from, source());
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id.as_deref(), Some(B));
    drop(rx);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the poller stops when nobody listens")
        .expect("no panic");
}

#[tokio::test]
async fn a_key_refreshed_by_arn_keeps_its_row_when_describe_is_denied() {
    let denied =
        mock!(Client::describe_key).then_http_response(|| aws_error(400, "AccessDeniedException"));
    let rules = [
        denied,
        aliases(),
        rotation_on(),
        rotations(),
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let mut cache = LastUsageCache::default();
    let (facts, _) = fetch_key(&reader, &source(), &arn(A), &mut cache, now())
        .await
        .expect("read")
        .expect("the row stays");
    assert_eq!(facts.key_id.as_deref(), Some(A));
    assert_eq!(facts.arn, arn(A));
    assert_eq!(facts.aliases, ["alias/alpha", "alias/zeta"]);
    assert_eq!(
        facts.unreadable.get("state").map(String::as_str),
        Some(NO_ACCESS)
    );
    // By bare id there is no ARN to keep: the refresh fails, and the next
    // full read brings the row.
    let err = fetch_key(&reader, &source(), A, &mut cache, now())
        .await
        .expect_err("no ARN, no row");
    assert_eq!(err.kind, crate::aws::ErrorKind::AccessDenied);
}
