//! Rule evaluation with every built-in rule (disabled ones switched on
//! too): events per second through `Engine::observe`, on a realistic mix —
//! mostly successful Decrypt/GenerateDataKey from a few hundred
//! principals over dozens of keys, a few percent denied, a sprinkle of
//! control-plane calls. Target: ≥ 1.5 M events/s on one core (issue 17).

use std::borrow::Cow;
use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kmstop::alert::{Engine, builtin};
use kmstop::event::{KeyRef, KmsEvent, Outcome};
use kmstop::inventory::{Inventory, KeyFacts};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const EVENTS: usize = 200_000;

struct Pools {
    principals: Vec<String>,
    keys: Vec<String>,
    ips: Vec<String>,
}

const NAMES: [(&str, bool); 12] = [
    ("Decrypt", true),
    ("Decrypt", true),
    ("Decrypt", true),
    ("Decrypt", true),
    ("GenerateDataKey", true),
    ("GenerateDataKey", true),
    ("Encrypt", true),
    ("DescribeKey", true),
    ("ListAliases", true),
    ("PutKeyPolicy", false),
    ("DisableKey", false),
    ("ScheduleKeyDeletion", false),
];

fn events(p: &Pools) -> Vec<KmsEvent<'_>> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let start: DateTime<Utc> = "2024-05-01T00:00:00Z".parse().expect("time");
    (0..i64::try_from(EVENTS).expect("fits"))
        .map(|i| {
            // Control-plane calls are rare: 1 in 500.
            let (name, read_only) = if rng.random_range(0..500) == 0 {
                NAMES[rng.random_range(9..NAMES.len())]
            } else {
                NAMES[rng.random_range(0..9)]
            };
            let denied = rng.random_range(0..100) < 3;
            let principal = &p.principals[rng.random_range(0..p.principals.len())];
            let account = if rng.random_range(0..100) == 0 {
                "444455556666"
            } else {
                "111122223333"
            };
            KmsEvent {
                time: start + Duration::milliseconds(i * 5),
                time_text: Cow::Borrowed(""),
                event_id: Cow::Borrowed("bench"),
                event_name: Cow::Borrowed(name),
                event_type: Some(Cow::Borrowed("AwsApiCall")),
                event_category: Some(Cow::Borrowed("Management")),
                region: Some(Cow::Borrowed("us-east-1")),
                recipient_account: Some(Cow::Borrowed("111122223333")),
                principal: Cow::Borrowed(principal),
                principal_type: Some(Cow::Borrowed("AssumedRole")),
                principal_account: Some(Cow::Borrowed(account)),
                session_name: None,
                access_key_id: None,
                source_ip: Some(Cow::Borrowed(&p.ips[rng.random_range(0..p.ips.len())])),
                user_agent: Some(Cow::Borrowed("aws-sdk-java/2.20")),
                invoked_by: None,
                key: Some(KeyRef {
                    arn: Cow::Borrowed(&p.keys[rng.random_range(0..p.keys.len())]),
                }),
                alias: None,
                outcome: if denied {
                    Outcome::Denied
                } else {
                    Outcome::Success
                },
                error_code: denied.then_some(Cow::Borrowed("AccessDeniedException")),
                error_message: None,
                read_only: Some(read_only),
                encryption_context: vec![(
                    Cow::Borrowed("aws:s3:arn"),
                    Cow::Borrowed("arn:aws:s3:::bucket/object"),
                )],
                key_policy: None,
                call: kmstop::event::CallDetail::default(),
                raw: None,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pools = Pools {
        principals: (0..300)
            .map(|i| format!("arn:aws:iam::111122223333:role/service-{i}"))
            .collect(),
        keys: (0..50)
            .map(|i| {
                format!(
                    "arn:aws:kms:us-east-1:111122223333:key/{i:08x}-1111-2222-3333-444455556666"
                )
            })
            .collect(),
        ips: (0..100)
            .map(|i| format!("10.0.{}.{}", i / 250, i % 250))
            .collect(),
    };
    let events = events(&pools);
    let rules: Vec<_> = builtin::rules()
        .into_iter()
        .map(|mut r| {
            r.enabled = true;
            r
        })
        .collect();
    let inventory = Inventory::new(pools.keys.iter().enumerate().map(|(i, k)| KeyFacts {
        arn: k.clone(),
        state: Some(if i == 0 { "PendingDeletion" } else { "Enabled" }.into()),
        rotation_enabled: Some(i % 2 == 0),
        ..KeyFacts::default()
    }));
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.bench_function("every built-in, observe", |b| {
        b.iter(|| {
            let mut engine = Engine::new(rules.clone(), inventory.clone()).expect("engine");
            let mut changes = 0;
            for e in &events {
                changes += engine.observe(black_box(e)).len();
            }
            black_box(changes)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
