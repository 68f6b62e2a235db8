//! Which field a failed call marks, and that the rest of the key is still read.

use super::*;

#[tokio::test]
async fn a_full_read_fills_every_field() {
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
    let mut cache = LastUsageCache::default();
    let inv = fetch_region(&reader, &source(), &mut cache, now())
        .await
        .expect("region read");
    assert_eq!(inv.problems, Vec::<String>::new());
    let keys: Vec<_> = inv.keys.iter().map(|k| k.key_id.clone()).collect();
    assert_eq!(keys, [Some(A.to_string()), Some(B.to_string())]);
    let a = by_id(&inv.keys, A);
    assert_eq!(a.arn, arn(A));
    assert_eq!(a.aliases, ["alias/alpha", "alias/zeta"]);
    assert_eq!(a.state.as_deref(), Some("Enabled"));
    assert_eq!(a.key_manager.as_deref(), Some("CUSTOMER"));
    assert_eq!(a.key_spec.as_deref(), Some("SYMMETRIC_DEFAULT"));
    assert_eq!(a.key_usage.as_deref(), Some("ENCRYPT_DECRYPT"));
    assert_eq!(a.created, Some(t("2025-01-02T03:04:05Z")));
    assert_eq!(a.rotation_enabled, Some(true));
    assert_eq!(a.rotation_period_days, Some(180));
    assert_eq!(a.next_rotation, Some(t("2026-06-01T00:00:00Z")));
    assert_eq!(
        a.last_rotated,
        Some(t("2025-12-01T00:00:00Z")),
        "newest rotation"
    );
    assert_eq!(a.last_used, Some(t("2026-02-28T10:00:00Z")));
    assert_eq!(a.last_used_operation.as_deref(), Some("Decrypt"));
    assert_eq!(a.last_used_event_id.as_deref(), Some("ev-last-use"));
    assert_eq!(a.policy.as_deref(), Some("{\"Statement\":[]}"));
    assert!(a.unreadable.is_empty(), "{:?}", a.unreadable);
    let grants = a.grants.as_ref().expect("grants read");
    assert_eq!(grants.count(), 1);
    assert_eq!(
        grants.kept[0].grantee.as_deref(),
        Some("arn:aws:iam::123456789012:role/reader")
    );
    assert_eq!(grants.kept[0].operations, ["Decrypt"]);
    let b = by_id(&inv.keys, B);
    assert_eq!(b.aliases, ["alias/b"]);
    assert_eq!(
        b.grants.as_ref().map(crate::inventory::KeyGrants::count),
        Some(0)
    );
}

#[tokio::test]
async fn access_denied_on_one_policy_marks_only_that_field() {
    let denied = mock!(Client::get_key_policy)
        .match_requests(|r| r.key_id() == Some(B))
        .then_http_response(|| aws_error(400, "AccessDeniedException"));
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        denied,
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let inv = fetch_region(&reader, &source(), &mut LastUsageCache::default(), now())
        .await
        .expect("a denied policy does not fail the region");
    let b = by_id(&inv.keys, B);
    assert_eq!(b.policy, None);
    assert_eq!(
        b.unreadable.iter().collect::<Vec<_>>(),
        [(&"policy".to_string(), &NO_ACCESS.to_string())]
    );
    assert_eq!(b.state.as_deref(), Some("Enabled"), "the rest is read");
    assert_eq!(b.rotation_period_days, Some(180));
    let a = by_id(&inv.keys, A);
    assert!(a.policy.is_some() && a.unreadable.is_empty());
    assert!(
        inv.problems.is_empty(),
        "access denied is a mark, not a problem"
    );
}

#[tokio::test]
async fn unsupported_rotation_reads_not_applicable() {
    let unsupported = mock!(Client::get_key_rotation_status)
        .then_http_response(|| aws_error(400, "UnsupportedOperationException"));
    let no_rotations = mock!(Client::list_key_rotations)
        .then_http_response(|| aws_error(400, "UnsupportedOperationException"));
    let rules = [
        list_keys(&[A]),
        aliases(),
        describe_all(),
        unsupported,
        no_rotations,
        policy_ok(),
        last_usage_ok(),
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let inv = fetch_region(&reader, &source(), &mut LastUsageCache::default(), now())
        .await
        .expect("region read");
    let a = by_id(&inv.keys, A);
    for field in [
        "rotation_enabled",
        "rotation_period_days",
        "next_rotation",
        "last_rotated",
    ] {
        assert_eq!(
            a.unreadable.get(field).map(String::as_str),
            Some(NOT_APPLICABLE),
            "{field}"
        );
    }
    assert_eq!(a.rotation_enabled, None);
    assert!(inv.problems.is_empty());
}

#[tokio::test]
async fn keys_that_cannot_rotate_are_not_asked() {
    let rotation = rotation_on();
    let history = rotations();
    let rules = [
        list_keys(&[RSA]),
        aliases(),
        describe_all(),
        policy_ok(),
        last_usage_ok(),
    ];
    let mut all: Vec<&Rule> = rules.iter().collect();
    all.push(&rotation);
    all.push(&history);
    let inv = fetch_region(
        &reader(&all),
        &source(),
        &mut LastUsageCache::default(),
        now(),
    )
    .await
    .expect("region read");
    let k = by_id(&inv.keys, RSA);
    assert_eq!(k.key_spec.as_deref(), Some("RSA_2048"));
    assert_eq!(
        k.unreadable.get("rotation_enabled").map(String::as_str),
        Some(NOT_APPLICABLE)
    );
    assert_eq!(
        k.unreadable.get("last_rotated").map(String::as_str),
        Some(NOT_APPLICABLE)
    );
    assert_eq!(rotation.num_calls() + history.num_calls(), 0);
}

#[tokio::test]
async fn a_denied_describe_keeps_the_row() {
    let denied = mock!(Client::describe_key)
        .match_requests(|r| r.key_id() == Some(B))
        .then_http_response(|| aws_error(400, "AccessDeniedException"));
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        denied,
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
        last_usage_ok(),
    ];
    let inv = fetch_region(
        &reader(&rules.iter().collect::<Vec<_>>()),
        &source(),
        &mut LastUsageCache::default(),
        now(),
    )
    .await
    .expect("read");
    let b = by_id(&inv.keys, B);
    assert_eq!(b.arn, arn(B));
    assert_eq!(b.aliases, ["alias/b"]);
    assert_eq!(b.state, None);
    assert_eq!(
        b.unreadable.get("state").map(String::as_str),
        Some(NO_ACCESS)
    );
    assert_eq!(b.rotation_enabled, Some(true), "other calls still answer");
}

#[tokio::test]
async fn a_failing_list_keys_fails_the_region() {
    let denied =
        mock!(Client::list_keys).then_http_response(|| aws_error(400, "AccessDeniedException"));
    let err = fetch_region(
        &reader(&[&denied]),
        &source(),
        &mut LastUsageCache::default(),
        now(),
    )
    .await
    .expect_err("no key list, no inventory");
    assert_eq!(err.kind, crate::aws::ErrorKind::AccessDenied);
}

#[tokio::test]
async fn refused_grants_read_no_access_and_keep_the_key() {
    let denied = mock!(Client::list_grants)
        .match_requests(|r| r.key_id().is_some_and(|id| id.ends_with(B)))
        .then_http_response(|| aws_error(400, "AccessDeniedException"));
    let rules = [
        list_keys(&[A, B]),
        aliases(),
        describe_all(),
        rotation_on(),
        rotations(),
        policy_ok(),
        last_usage_ok(),
        denied,
    ];
    let reader = reader(&rules.iter().collect::<Vec<_>>());
    let inv = fetch_region(&reader, &source(), &mut LastUsageCache::default(), now())
        .await
        .expect("refused grants do not fail the region");
    assert_eq!(inv.problems, Vec::<String>::new());
    let b = by_id(&inv.keys, B);
    assert_eq!(b.grants, None);
    assert_eq!(
        b.unreadable.get("grants").map(String::as_str),
        Some("no access")
    );
    assert_eq!(
        by_id(&inv.keys, A)
            .grants
            .as_ref()
            .map(crate::inventory::KeyGrants::count),
        Some(1)
    );
}
