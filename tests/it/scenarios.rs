//! Alert behaviour as data (trippy's pattern): every `tests/scenarios/*.toml`
//! is a list of events (real fixture records or inline templates at time
//! offsets), optional key inventory facts and rule overrides, and the
//! alerts expected at the end. One test runs them all and names each file
//! that failed; another checks that every built-in rule has a scenario
//! where it fires and one where it must not.
//!
//! A scenario file:
//!
//! ```toml
//! name = "…"
//! rules = ["kms-key-disable-or-delete"]   # only these rules (default: all)
//! start = "2024-05-01T00:00:00Z"          # what `at` offsets count from
//! tick = "+2h"                            # a final tick at start + 2h
//! strict = true                           # every alert must be expected
//!
//! [[inventory]]                           # key facts (inventory::KeyFacts)
//! arn = "arn:aws:kms:…"
//! state = "PendingDeletion"
//!
//! [[override]]                            # as in rules.toml
//! id = "…"
//! enabled = true
//!
//! [[rule]]                                # extra rules, as in rules.toml
//!
//! [[event]]                               # a real record …
//! fixture = "panther-analysis_aws_kms_cmk_loss.json"
//! event_name = "DisableKey"
//! event_id = "1"
//! nth = 0                                 # the nth such record (default 0)
//! all = true                              # or every record of the file
//!
//! [[event]]                               # … or the inline template
//! at = "+30s"
//! name = "Decrypt"      # eventName
//! role = "app"          # AssumedRole arn:aws:iam::<account>:role/app
//! account = "111122223333"
//! key = "k1"            # key id or ARN
//! ip = "203.0.113.10"
//! error = "AccessDenied"
//! message = "…"
//! repeat = 30           # 30 copies …
//! every = "1s"          # … a second apart
//! record = { eventType = "AwsVpceEvent" }  # merged over the record
//! remove = ["resources"]                  # top-level fields dropped
//!
//! [[expect]]
//! rule = "…"
//! group = "key=arn:…"   # default: the rule's only alert
//! state = "firing"      # at the end
//! count = 2             # at the end
//! fired = 1             # times it fired (re-fires included)
//! resolved = 0          # times it resolved
//!
//! [[expect_none]]
//! rule = "…"            # no alert (for this group, if given)
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use kmstop::alert::{
    Alert, AlertChange, Change, Engine, OverrideSpec, RuleSpec, RulesFile, builtin, validate,
};
use kmstop::event::{KmsEvent, Parsed, parse_record};
use kmstop::inventory::{Inventory, KeyFacts};
use serde::Deserialize;
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    rules: Option<Vec<String>>,
    #[serde(default = "default_start")]
    start: DateTime<Utc>,
    #[serde(default)]
    tick: Option<String>,
    #[serde(default = "yes")]
    strict: bool,
    #[serde(default)]
    inventory: Vec<KeyFacts>,
    #[serde(default, rename = "override")]
    overrides: Vec<OverrideSpec>,
    #[serde(default, rename = "rule")]
    extra: Vec<RuleSpec>,
    #[serde(default, rename = "event")]
    events: Vec<EventSpec>,
    #[serde(default)]
    expect: Vec<Expect>,
    #[serde(default)]
    expect_none: Vec<ExpectNone>,
}

fn default_start() -> DateTime<Utc> {
    "2024-05-01T00:00:00Z".parse().expect("time")
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EventSpec {
    fixture: Option<String>,
    event_id: Option<String>,
    event_name: Option<String>,
    nth: usize,
    /// Every record of the fixture, in file order.
    all: bool,
    at: Option<String>,
    name: Option<String>,
    role: Option<String>,
    account: Option<String>,
    key: Option<String>,
    ip: Option<String>,
    error: Option<String>,
    message: Option<String>,
    repeat: Option<u32>,
    every: Option<String>,
    record: Option<toml::Table>,
    remove: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    rule: String,
    group: Option<String>,
    state: Option<String>,
    count: Option<u64>,
    fired: Option<usize>,
    resolved: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectNone {
    rule: String,
    group: Option<String>,
}

/// `+1h30m`, `+90s`, `+0s`: an offset in whole units.
fn offset(text: &str) -> Result<Duration, String> {
    let body = text.strip_prefix('+').unwrap_or(text);
    let mut total = Duration::zero();
    let mut rest = body;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_end = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .map_or(rest.len(), |i| digits + i);
        let part = &rest[..unit_end];
        total += kmstop::timespec::parse_age(part).ok_or(format!("bad offset {text:?}"))?;
        rest = &rest[unit_end..];
    }
    Ok(total)
}

fn key_arn(key: &str) -> String {
    if key.starts_with("arn:") {
        key.to_owned()
    } else {
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}")
    }
}

fn template(spec: &EventSpec, time: DateTime<Utc>, id: &str) -> Value {
    let account = spec.account.as_deref().unwrap_or(ACCOUNT);
    let role = spec.role.as_deref().unwrap_or("app");
    let key = key_arn(
        spec.key
            .as_deref()
            .unwrap_or("1111aaaa-1111-1111-1111-111111111111"),
    );
    let mut rec = json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROAEXAMPLE:{role}-session"),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{role}-session"),
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": format!("arn:aws:iam::{account}:role/{role}"),
                    "accountId": account,
                    "userName": role
                }
            }
        },
        "eventTime": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "eventSource": "kms.amazonaws.com",
        "eventName": spec.name.as_deref().unwrap_or("Decrypt"),
        "awsRegion": REGION,
        "sourceIPAddress": spec.ip.as_deref().unwrap_or("203.0.113.10"),
        "userAgent": "aws-sdk-go-v2/1.30.0",
        "requestParameters": {"keyId": key},
        "responseElements": null,
        "requestID": format!("req-{id}"),
        "eventID": id,
        "readOnly": true,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    });
    if let Some(code) = &spec.error {
        rec["errorCode"] = json!(code);
        rec["errorMessage"] = json!(
            spec.message
                .clone()
                .unwrap_or_else(|| format!("{code}: not allowed"))
        );
    } else if let Some(message) = &spec.message {
        rec["errorMessage"] = json!(message);
    }
    rec
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn all_records(file: &str) -> Result<Vec<Value>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cloudtrail")
        .join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
    doc["Records"]
        .as_array()
        .cloned()
        .ok_or(format!("{file}: no Records"))
}

fn fixture_record(spec: &EventSpec, file: &str) -> Result<Value, String> {
    let records = all_records(file)?;
    records
        .iter()
        .filter(|r| spec.event_id.as_deref().is_none_or(|id| r["eventID"] == id))
        .filter(|r| {
            spec.event_name
                .as_deref()
                .is_none_or(|n| r["eventName"] == n)
        })
        .nth(spec.nth)
        .cloned()
        .ok_or(format!(
            "{file}: no record #{} with eventID {:?} and eventName {:?}",
            spec.nth, spec.event_id, spec.event_name
        ))
}

fn events_of(s: &Scenario) -> Result<Vec<KmsEvent<'static>>, String> {
    let mut out = Vec::new();
    for (i, spec) in s.events.iter().enumerate() {
        let at = spec.at.as_deref().map(offset).transpose()?;
        let every = spec
            .every
            .as_deref()
            .map(offset)
            .transpose()?
            .unwrap_or_default();
        for n in 0..spec.repeat.unwrap_or(1) {
            let time = at.map(|a| s.start + a + every * i32::try_from(n).unwrap_or(0));
            let id = format!("{}-e{i}-{n}", s.name);
            if let (Some(file), true) = (&spec.fixture, spec.all) {
                for rec in all_records(file)? {
                    if let Parsed::Kms(e) =
                        parse_record(&rec.to_string()).map_err(|e| e.to_string())?
                    {
                        out.push(e.into_owned());
                    }
                }
                continue;
            }
            let mut rec = match &spec.fixture {
                Some(file) => {
                    let mut rec = fixture_record(spec, file)?;
                    if let Some(t) = time {
                        rec["eventTime"] =
                            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                    }
                    rec
                }
                None => template(spec, time.unwrap_or(s.start), &id),
            };
            if let Some(table) = &spec.record {
                merge(
                    &mut rec,
                    serde_json::to_value(table).map_err(|e| e.to_string())?,
                );
            }
            if let Value::Object(map) = &mut rec {
                for k in &spec.remove {
                    map.remove(k);
                }
            }
            let text = rec.to_string();
            match parse_record(&text).map_err(|e| format!("event {i}: {e}"))? {
                Parsed::Kms(e) => out.push(e.into_owned()),
                Parsed::NonKms => return Err(format!("event {i} is not a KMS event")),
            }
        }
    }
    out.sort_by_key(|e| e.time);
    Ok(out)
}

fn rules_of(s: &Scenario) -> Vec<RuleSpec> {
    let file = RulesFile {
        rules: s.extra.clone(),
        overrides: s.overrides.clone(),
    };
    let mut rules = validate::apply(&builtin::rules(), &file);
    if let Some(only) = &s.rules {
        rules.retain(|r| only.contains(&r.id));
    }
    rules
}

struct Outcome {
    changes: Vec<AlertChange>,
    alerts: Vec<Alert>,
}

fn run(s: &Scenario) -> Result<Outcome, String> {
    let rules = rules_of(s);
    if let Some(only) = &s.rules {
        for id in only {
            if !rules.iter().any(|r| &r.id == id) {
                return Err(format!("no rule {id}"));
            }
        }
    }
    let inventory = Inventory::new(s.inventory.clone());
    let mut engine = Engine::new(rules, inventory).map_err(|e| e.to_string())?;
    let mut changes = Vec::new();
    for e in events_of(s)? {
        changes.extend(engine.observe(&e));
    }
    if let Some(t) = &s.tick {
        changes.extend(engine.tick(s.start + offset(t)?));
    }
    let alerts = engine.all_alerts().into_iter().cloned().collect();
    Ok(Outcome { changes, alerts })
}

fn check(s: &Scenario, o: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expected = Vec::new();
    for x in &s.expect {
        let found: Vec<&Alert> = o
            .alerts
            .iter()
            .filter(|a| a.rule == x.rule && x.group.as_ref().is_none_or(|g| *g == a.group))
            .collect();
        let [alert] = found[..] else {
            problems.push(format!(
                "expected one alert of {} {:?}, found {}",
                x.rule,
                x.group,
                found.len()
            ));
            continue;
        };
        expected.push((alert.rule.clone(), alert.group.clone()));
        let state = serde_json::to_value(alert.state).expect("state");
        if let Some(want) = &x.state
            && state != want.as_str()
        {
            problems.push(format!(
                "{} {}: state {state}, want {want}",
                x.rule, alert.group
            ));
        }
        if let Some(want) = x.count
            && alert.count != want
        {
            problems.push(format!(
                "{} {}: count {}, want {want}",
                x.rule, alert.group, alert.count
            ));
        }
        let times = |c: Change| {
            o.changes
                .iter()
                .filter(|ch| {
                    ch.change == c && ch.alert.rule == alert.rule && ch.alert.group == alert.group
                })
                .count()
        };
        for (what, want, c) in [
            ("fired", x.fired, Change::Fired),
            ("resolved", x.resolved, Change::Resolved),
        ] {
            if let Some(want) = want
                && times(c) != want
            {
                problems.push(format!(
                    "{} {}: {what} {} times, want {want}",
                    x.rule,
                    alert.group,
                    times(c)
                ));
            }
        }
    }
    for x in &s.expect_none {
        let hit =
            |rule: &str, group: &str| rule == x.rule && x.group.as_ref().is_none_or(|g| g == group);
        for a in o.alerts.iter().filter(|a| hit(&a.rule, &a.group)) {
            problems.push(format!(
                "unexpected alert {} {} (count {})",
                a.rule, a.group, a.count
            ));
        }
    }
    if s.strict {
        for a in &o.alerts {
            let known = expected.iter().any(|(r, g)| *r == a.rule && *g == a.group);
            if !known && !problems.iter().any(|p| p.starts_with("unexpected alert")) {
                problems.push(format!(
                    "alert not expected (strict): {} {} (count {})",
                    a.rule, a.group, a.count
                ));
            }
        }
    }
    problems
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scenarios")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    toml::from_str(&text).map_err(|e| e.to_string())
}

#[test]
fn every_scenario_file() {
    let files = scenario_files();
    assert!(!files.is_empty());
    let mut failed = String::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = load(path).and_then(|s| {
            let o = run(&s)?;
            let problems = check(&s, &o);
            if problems.is_empty() {
                Ok(())
            } else {
                let alerts: Vec<String> = o
                    .alerts
                    .iter()
                    .map(|a| {
                        format!(
                            "    {} [{}] {:?} count={}",
                            a.rule, a.group, a.state, a.count
                        )
                    })
                    .collect();
                Err(format!(
                    "{}\n  alerts:\n{}",
                    problems.join("\n  "),
                    alerts.join("\n")
                ))
            }
        });
        match result {
            Ok(()) => println!("ok   {name}"),
            Err(e) => {
                println!("FAIL {name}");
                let _ = writeln!(failed, "{name}:\n  {e}");
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} scenario file(s) failed:\n{failed}",
        failed.matches(".toml:").count()
    );
}

/// Every built-in rule fires in some scenario and is expected silent in
/// another.
#[test]
fn every_builtin_rule_has_a_positive_and_a_negative_scenario() {
    let mut positive = BTreeSet::new();
    let mut negative = BTreeSet::new();
    for path in scenario_files() {
        let s = load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        positive.extend(s.expect.iter().map(|x| x.rule.clone()));
        negative.extend(s.expect_none.iter().map(|x| x.rule.clone()));
    }
    let mut missing = Vec::new();
    for r in builtin::rules() {
        if !positive.contains(&r.id) {
            missing.push(format!("{} (positive)", r.id));
        }
        if !negative.contains(&r.id) {
            missing.push(format!("{} (negative)", r.id));
        }
    }
    assert!(missing.is_empty(), "no scenario for: {missing:#?}");
}
