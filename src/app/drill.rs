//! Drill-down screens: a principal (its keys, what it decrypted grouped by
//! encryption context and by resource, its events), a key (whether it is
//! safe to delete, its principals and events), an alert (its events), a
//! source IP (its events), a resource (its callers, keys and events: see
//! [`super::resources`]).

use chrono::{DateTime, Utc};

use super::log::Entry;
use super::resources::{CallerRow, Coverage, ResourceRow};
use super::rows::{AlertRow, EventRow, KeyRow, PrincipalRow};
use super::tables::{add_sparks, event_rows, key_label, key_row, rates};
use super::{App, Drill, DrillTarget, Section};
use crate::aggregate::RecentCounts;
use crate::alert::{Kind, Matcher, RuleSpec, field_value, push_pair, write_group};
use crate::store::{Dim, NONE};

/// One encryption-context pair, with what kind of thing it names.
#[derive(Debug, Clone)]
pub struct ContextView {
    pub kind: &'static str,
    pub key: String,
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default)]
pub struct DrillView {
    pub title: String,
    /// Facts shown above the sections (`label: value`).
    pub facts: Vec<(String, String)>,
    pub keys: Vec<KeyRow>,
    pub principals: Vec<PrincipalRow>,
    pub contexts: Vec<ContextView>,
    /// Context pairs not listed.
    pub context_other: u64,
    pub events: Vec<EventRow>,
    /// A resource's callers.
    pub callers: Vec<CallerRow>,
    /// A principal's resources, and the calls on resources not listed.
    pub resources: Vec<ResourceRow>,
    pub resource_other: u64,
    /// What the callers' and resources' counts cover.
    pub resource_coverage: Coverage,
    pub alert: Option<AlertRow>,
    /// A key's answer to "is it safe to delete?".
    pub verdict: Option<crate::deletion::Verdict>,
}

/// What a context key says the data is: S3 objects, secrets, tables…
pub fn context_kind(key: &str) -> &'static str {
    match key {
        "aws:s3:arn" => "S3 object",
        "SecretARN" | "SecretVersionId" => "secret",
        "aws:dynamodb:tableName" | "aws:dynamodb:subscriberId" => "DynamoDB table",
        "aws:ebs:id" => "EBS volume",
        "aws:lambda:FunctionArn" => "Lambda function",
        "aws:rds:db-id" => "RDS database",
        "aws:logs:arn" => "log group",
        "aws:sqs:arn" => "SQS queue",
        "aws:sns:topicArn" => "SNS topic",
        "aws:ssm:parameter-name" | "PARAMETER_ARN" => "SSM parameter",
        "aws:backup:source-resource" => "backup",
        _ => "other",
    }
}

/// Calls per principal and per key over the last 1, 5 and 15 minutes, by
/// id (from [`crate::aggregate::recent_counts`]).
type Recent<'a> = (&'a [RecentCounts], &'a [RecentCounts]);

pub fn build_drill(
    app: &App,
    drill: &Drill,
    t: DateTime<Utc>,
    from: DateTime<Utc>,
    recent: Recent<'_>,
) -> DrillView {
    let filter = drill.filter.as_ref();
    let mut view = match &drill.target {
        DrillTarget::Principal(name) => principal(app, name, t, from, drill, recent.1),
        DrillTarget::Key(arn) => key(app, arn, t, from, drill, recent.0),
        DrillTarget::SourceIp(ip) => DrillView {
            title: format!("Source IP {ip}"),
            events: event_rows(app, from, t, filter, |e| {
                e.event.view().source_ip.as_deref() == Some(ip.as_str())
            }),
            ..DrillView::default()
        },
        DrillTarget::Alert { rule, group, first } => alert(app, rule, group, *first, t, drill),
        DrillTarget::Resource { service, name } => {
            super::resources::drill(app, (service, name), t, from, drill, recent.1)
        }
    };
    // On Athena the events are a query's: say which of them are shown.
    if let Some(q) =
        super::athena::query_target(&drill.target).and_then(|name| app.data.queried.get(&name))
    {
        view.facts.push(("events".into(), q.describe()));
    }
    // The same last-hour sparklines as the panes, selection-near rows first.
    let selected = |i: usize| drill.lists[i.min(super::MAX_SECTIONS - 1)].selected;
    let (p_sel, k_sel) = drill
        .target
        .sections()
        .iter()
        .enumerate()
        .fold((0, 0), |acc, (i, s)| match s {
            Section::Principals => (selected(i), acc.1),
            Section::Keys => (acc.0, selected(i)),
            _ => acc,
        });
    add_sparks(app, &mut view.principals, &mut view.keys, (p_sel, k_sel), t);
    view
}

fn principal(
    app: &App,
    name: &str,
    t: DateTime<Utc>,
    from: DateTime<Utc>,
    d: &Drill,
    k_by: &[RecentCounts],
) -> DrillView {
    let store = &app.data.store;
    let mut view = DrillView {
        title: format!("Principal {name}"),
        events: event_rows(app, from, t, d.filter.as_ref(), |e| {
            e.event.principal() == name
        }),
        ..DrillView::default()
    };
    // What its data calls named, from the held events (the store has no
    // resources): whether or not the store still counts it.
    (view.resources, view.resource_other, view.resource_coverage) =
        super::resources::of_principal(app, name, from, t);
    let Some(id) = store.id(Dim::Principal, name) else {
        view.facts
            .push(("note".into(), "no longer in the store".into()));
        return view;
    };
    if let Some(info) = store.entity(Dim::Principal, id) {
        view.facts
            .push(("calls in store".into(), info.totals.calls.to_string()));
        view.facts
            .push(("denied".into(), info.totals.denied.to_string()));
        view.facts.push(("keys".into(), info.linked.to_string()));
    }
    // Keys this principal used in the window.
    let mut per_key: std::collections::HashMap<u32, (u64, u64)> = std::collections::HashMap::new();
    for (_, b) in store.buckets_in(window_from(app, from), store.bucket_index(t)) {
        for (c, n) in b.combos() {
            if c.principal == id && c.key != NONE {
                let e = per_key.entry(c.key).or_default();
                e.0 += u64::from(n);
                e.1 += if c.is_denied() { u64::from(n) } else { 0 };
            }
        }
    }
    view.keys = per_key
        .into_iter()
        .map(|(kid, acc)| {
            let r = rates(
                k_by.get(kid as usize),
                &crate::aggregate::RateSpan::of(store, t),
            );
            key_row(app, store.name(Dim::Key, kid), acc, r, Some(kid))
        })
        .collect();
    view.keys
        .sort_by(|a, b| b.calls.cmp(&a.calls).then(a.label.cmp(&b.label)));
    if let Some(top) = crate::aggregate::top_contexts(store, Dim::Principal, id, 200) {
        view.context_other = top.other;
        view.contexts = top
            .rows
            .into_iter()
            .map(|r| ContextView {
                kind: context_kind(r.key),
                key: r.key.to_owned(),
                value: r.value.to_owned(),
                count: r.count,
            })
            .collect();
        // Grouped by kind (S3 objects together, then secrets…), most used first.
        view.contexts
            .sort_by(|a, b| a.kind.cmp(b.kind).then(b.count.cmp(&a.count)));
    }
    view
}

fn window_from(app: &App, from: DateTime<Utc>) -> i64 {
    let store = &app.data.store;
    store.bucket_index(from) + i64::from(app.window.duration().is_some())
}

fn key(
    app: &App,
    arn: &str,
    t: DateTime<Utc>,
    from: DateTime<Utc>,
    d: &Drill,
    p_by: &[RecentCounts],
) -> DrillView {
    let store = &app.data.store;
    let facts = app.data.inventory.get(arn);
    let mut view = DrillView {
        title: format!("Key {}", key_label(arn, facts)),
        events: event_rows(app, from, t, d.filter.as_ref(), |e| {
            e.event.key_arn() == Some(arn)
        }),
        ..DrillView::default()
    };
    view.facts.push(("arn".into(), arn.to_owned()));
    view.verdict = Some(super::key_verdict::key_verdict(
        app,
        arn,
        window_from(app, from),
        from,
        t,
    ));
    if let Some(f) = facts {
        for (label, value) in [
            ("state", f.state.clone()),
            ("description", f.description.clone()),
            (
                "aliases",
                Some(f.aliases.join(", ")).filter(|s| !s.is_empty()),
            ),
            (
                "rotation",
                f.rotation_enabled
                    .map(|r| if r { "on" } else { "off" }.to_owned()),
            ),
            (
                "deletion",
                f.deletion_date.map(|d| d.format("%Y-%m-%d").to_string()),
            ),
        ] {
            if let Some(v) = value {
                view.facts.push((label.into(), v));
            }
        }
    }
    let Some(id) = store.id(Dim::Key, arn) else {
        return view;
    };
    let mut per: std::collections::HashMap<u32, (u64, u64, u64)> = std::collections::HashMap::new();
    let decrypt = store.decrypt_name_id();
    for (_, b) in store.buckets_in(window_from(app, from), store.bucket_index(t)) {
        for (c, n) in b.combos() {
            if c.key == id {
                let e = per.entry(c.principal).or_default();
                let n = u64::from(n);
                e.0 += n;
                e.1 += if c.event_name == decrypt { n } else { 0 };
                e.2 += if c.is_denied() { n } else { 0 };
            }
        }
    }
    view.principals = per
        .into_iter()
        .map(|(pid, (calls, decrypt, denied))| {
            let info = store.entity(Dim::Principal, pid);
            PrincipalRow {
                id: pid,
                name: store.shared_name(Dim::Principal, pid),
                calls,
                decrypt,
                denied,
                rates: rates(
                    p_by.get(pid as usize),
                    &crate::aggregate::RateSpan::of(store, t),
                ),
                keys: info.map_or(0, |i| i.linked),
                first: info.and_then(|i| i.first_seen),
                last: info.and_then(|i| i.last_seen),
                ..PrincipalRow::default()
            }
        })
        .collect();
    view.principals
        .sort_by(|a, b| b.calls.cmp(&a.calls).then(a.name.cmp(&b.name)));
    view
}

/// Whether an event belongs to a rule's alert group: the rule matches it
/// and its group text is the alert's.
struct GroupMatch<'r> {
    spec: &'r RuleSpec,
    matcher: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl GroupMatch<'_> {
    fn matches(&self, app: &App, e: &Entry, group: &str, samples: &[String]) -> bool {
        let v = e.event.view();
        if samples.iter().any(|s| *s == v.event_id) {
            return true;
        }
        let inventory = &app.data.inventory;
        let Some(m) = &self.matcher else { return false };
        if !m.matches(&v, inventory)
            || self
                .exclude
                .as_ref()
                .is_some_and(|x| x.matches(&v, inventory))
        {
            return false;
        }
        let mut text = String::new();
        write_group(&mut text, &self.spec.group_by, &v);
        if self.spec.kind == Kind::FirstSeen
            && let Some(field) = self.spec.field
        {
            let value = field_value(&v, field);
            let value = value.as_deref().unwrap_or("(none)");
            push_pair(&mut text, !self.spec.group_by.is_empty(), field, value);
        }
        text == group
    }
}

fn alert(
    app: &App,
    rule: &str,
    group: &str,
    first: DateTime<Utc>,
    t: DateTime<Utc>,
    d: &Drill,
) -> DrillView {
    let episodes = &app.data.episodes;
    let found = episodes
        .all()
        .iter()
        .enumerate()
        .find(|(_, e)| e.rule == rule && e.group == group && e.first == first);
    let mut view = DrillView {
        title: format!("Alert {rule}"),
        ..DrillView::default()
    };
    let Some((i, ep)) = found else {
        view.facts
            .push(("note".into(), "this alert is no longer held".into()));
        return view;
    };
    view.facts.push(("title".into(), ep.title.clone()));
    view.facts.push(("group".into(), ep.group.clone()));
    view.facts
        .push(("severity".into(), ep.severity.to_string()));
    view.alert = Some(AlertRow {
        firing: ep.firing_at(t),
        episode: std::sync::Arc::clone(ep),
        name_rank: episodes.name_rank(i),
        rule_rank: episodes.rule_rank(i),
    });
    let Some(spec) = app.data.rules().iter().find(|r| r.id == rule) else {
        return view;
    };
    let m = GroupMatch {
        spec,
        matcher: Matcher::compile(&spec.matcher).ok(),
        exclude: spec.exclude.as_ref().and_then(|x| Matcher::compile(x).ok()),
    };
    let until = ep.resolved.map_or(t, |r| r.min(t)).max(ep.last.min(t));
    let samples = ep.samples.clone();
    view.events = event_rows(app, ep.first, until, d.filter.as_ref(), |e| {
        m.matches(app, e, group, &samples)
    });
    view
}
