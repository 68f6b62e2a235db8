//! "Is this key safe to delete?" in the key drill-down, over the story:
//! the verdict and its evidence, drawn into a `TestBackend`.

use crate::support;

use kmstop::app::{Action, App, Pane, update};
use kmstop::feed::{SourceId, SourceMsg};
use kmstop::inventory::{Grant, KeyFacts, KeyGrants};
use kmstop::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use support::story::{ACCOUNT, KEY_DOOMED, KEY_ORDERS};

fn render(app: &App) -> ratatui::buffer::Buffer {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test terminal");
    terminal
        .draw(|f| {
            let _ = kmstop::ui::draw(f, app, &Theme::default());
        })
        .expect("draws");
    terminal.backend().buffer().clone()
}

/// The story with what KMS says of its two keys: the doomed key last
/// used months ago, its grant `grants` (none when empty).
fn app_with(grants: Vec<Grant>) -> App {
    app_on(support::app(), grants)
}

fn app_on(mut app: App, grants: Vec<Grant>) -> App {
    let start = support::story::start();
    let doomed = KeyFacts {
        arn: KEY_DOOMED.to_owned(),
        key_id: Some("3333cccc-0000-4000-8000-000000000003".to_owned()),
        account: Some(ACCOUNT.to_owned()),
        state: Some("PendingDeletion".to_owned()),
        key_manager: Some("CUSTOMER".to_owned()),
        last_used: Some(start - chrono::Duration::days(90)),
        last_used_operation: Some("Decrypt".to_owned()),
        last_used_event_id: Some("old-use-0001".to_owned()),
        grants: Some(KeyGrants {
            kept: grants,
            ..KeyGrants::default()
        }),
        ..KeyFacts::default()
    };
    let orders = KeyFacts {
        arn: KEY_ORDERS.to_owned(),
        account: Some(ACCOUNT.to_owned()),
        state: Some("Enabled".to_owned()),
        key_manager: Some("CUSTOMER".to_owned()),
        grants: Some(KeyGrants::default()),
        ..KeyFacts::default()
    };
    let source = SourceId {
        account: ACCOUNT.to_owned(),
        region: "us-east-1".to_owned(),
    };
    let now = app.now;
    app.data.apply(
        SourceMsg::Keys {
            source,
            keys: vec![doomed, orders],
            complete: true,
        },
        now,
    );
    app.refresh();
    app
}

/// The key drill-down of `arn`, drawn.
fn drill(app: &mut App, arn: &str) -> String {
    let now = app.now;
    update(app, Action::Focus(Pane::Keys), now);
    app.refresh();
    let at = app
        .snapshot
        .keys
        .iter()
        .position(|k| k.arn == arn)
        .expect("the key is listed");
    for _ in 0..at {
        update(app, Action::Down, now);
    }
    update(app, Action::Enter, now);
    app.refresh();
    support::text(&render(app))
}

#[test]
fn a_used_key_names_its_last_user() {
    let mut app = app_with(Vec::new());
    let text = drill(&mut app, KEY_ORDERS);
    assert!(
        text.contains("delete?: in use: used Decrypt"),
        "no verdict in:\n{text}"
    );
    insta::assert_snapshot!("key_verdict_in_use_120x40", text);
}

#[test]
fn refused_calls_make_an_unused_key_not_safe() {
    let mut app = app_with(Vec::new());
    let text = drill(&mut app, KEY_DOOMED);
    assert!(
        text.contains("delete?: not safe: 40 refused or failed call(s) still ask for it"),
        "{text}"
    );
    assert!(text.contains("KMS last use: Decrypt 90 d ago"), "{text}");
    assert!(text.contains("event old-use-0001"), "{text}");
}

#[test]
fn a_grant_is_named_with_its_grantee() {
    let grant = Grant {
        grant_id: "g-1".to_owned(),
        grantee: Some(format!("arn:aws:iam::{ACCOUNT}:role/legacy-reports")),
        operations: vec!["Decrypt".to_owned()],
        ..Grant::default()
    };
    let mut app = app_with(vec![grant]);
    let text = drill(&mut app, KEY_DOOMED);
    assert!(
        text.contains("not safe: 1 grant(s) still let principals use it"),
        "{text}"
    );
    assert!(text.contains("role/legacy-reports (Decrypt)"), "{text}");
}

/// A Decrypt the key's state refused (`KMSInvalidStateException`) is not
/// a use: it is a call that still asks for the key.
#[test]
fn a_call_the_keys_state_refused_is_not_a_use() {
    let mut app = support::app();
    let start = support::story::start();
    let failed: Vec<_> = (0..3_u8)
        .map(|n| {
            let t = start + chrono::Duration::minutes(110) + chrono::Duration::seconds(n.into());
            let mut r = support::story::record(
                900 + usize::from(n),
                t,
                "Decrypt",
                support::story::ORDERS,
                KEY_DOOMED,
            );
            r["errorCode"] = serde_json::json!("KMSInvalidStateException");
            support::pack(&r)
        })
        .collect();
    app.data.ingest(failed, None);
    app.refresh();
    let mut app = app_on(app, Vec::new());
    let text = drill(&mut app, KEY_DOOMED);
    assert!(
        text.contains("delete?: not safe: 43 refused or failed call(s) still ask for it"),
        "{text}"
    );
    assert!(
        text.contains("0 cryptographic call(s) by 0 principal(s)"),
        "{text}"
    );
}

/// The drill-down names the AWS services that used the key for a
/// principal (`invokedBy`), with their calls, busiest first.
#[test]
fn the_services_that_used_the_key_are_listed() {
    let mut app = support::app();
    let start = support::story::start();
    let via: Vec<_> = [
        "s3.amazonaws.com",
        "s3.amazonaws.com",
        "secretsmanager.amazonaws.com",
    ]
    .iter()
    .enumerate()
    .map(|(n, service)| {
        let t = start
            + chrono::Duration::minutes(100)
            + chrono::Duration::seconds(i64::try_from(n).unwrap_or(0));
        let mut r =
            support::story::record(950 + n, t, "Decrypt", support::story::ORDERS, KEY_ORDERS);
        r["userIdentity"]["invokedBy"] = serde_json::json!(service);
        support::pack(&r)
    })
    .collect();
    app.data.ingest(via, None);
    app.refresh();
    let mut app = app_on(app, Vec::new());
    let text = drill(&mut app, KEY_ORDERS);
    assert!(
        text.contains(
            "AWS services (invokedBy): s3.amazonaws.com 2, secretsmanager.amazonaws.com 1"
        ),
        "{text}"
    );
}
