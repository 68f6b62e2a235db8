//! Following a trail's CloudWatch Logs log group with Live Tail
//! (`--trail-logs`), beside LookupEvents and the trail in S3: events
//! within seconds of the call, through each region's one set of
//! delivered ids, so each is delivered once whichever path brings it
//! first. Live Tail samples above 500 events a second, so it only ever
//! makes events fresher: it never makes a minute complete, and the
//! header says when it is sampling.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::log_group::{LogGroupUrl, filter_pattern};
use super::lookup::SharedDelivered;
use super::outbox::Outbox;
use super::trail_layout::Selection;
use crate::aws::{CloudTrailReader, ErrorKind, LogsReader, TailUpdate};
use crate::clock::Clock;
use crate::event::{OwnIdentity, PackedEvent, Parsed, parse_record};
use crate::feed::{Health, LiveTailStatus, SourceId, SourceMsg};

/// `--trail-logs auto|off|LOG_GROUP`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LogsChoice {
    /// Live Tail is billed by the session-minute: it runs only when asked.
    #[default]
    Off,
    /// The log group of the trail `DescribeTrails` names.
    Auto,
    Group(LogGroupUrl),
}

impl std::str::FromStr for LogsChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(Self::Off),
            "auto" => Ok(Self::Auto),
            s if s.starts_with("logs://") => LogGroupUrl::parse(s).map(Self::Group),
            s => LogGroupUrl::parse(&format!("logs://{s}")).map(Self::Group),
        }
    }
}

/// The longest wait before a broken session is started again.
const MAX_BACKOFF: StdDuration = StdDuration::from_mins(1);
/// How often the counts are sent while nothing else changes (in updates,
/// one a second).
const STATUS_EVERY: u64 = 15;

/// What a Live Tail follower needs: the account's regions and their ids.
pub struct LiveTailSetup {
    pub config: SdkConfig,
    pub account: String,
    pub regions: Vec<(SourceId, SharedDelivered)>,
    pub choice: LogsChoice,
    /// The pollers' backfill start: older events are left out.
    pub from: DateTime<Utc>,
    pub own_identity: Option<OwnIdentity>,
    pub include_own_calls: bool,
    pub clock: Arc<dyn Clock>,
    pub tx: Outbox,
}

/// One region's share of the session.
struct Leg {
    ids: SharedDelivered,
    status: LiveTailStatus,
}

/// Finds the log group and follows it until `stop`, starting a new
/// session when one ends (they last at most three hours) or breaks.
pub async fn follow_live_tail(setup: LiveTailSetup, mut stop: watch::Receiver<bool>) {
    let group = match find_group(&setup).await {
        Ok(group) => group,
        Err(why) => {
            let location = match &setup.choice {
                LogsChoice::Group(url) => url.to_string(),
                _ => "--trail-logs auto".into(),
            };
            for (source, _) in &setup.regions {
                let status = new_status(
                    source,
                    &location,
                    Health::Unavailable {
                        message: why.clone(),
                    },
                );
                if !setup.tx.send(SourceMsg::LiveTail(status)).await {
                    return;
                }
            }
            return;
        }
    };
    let location = group.to_string();
    let mut legs: BTreeMap<String, Leg> = setup
        .regions
        .iter()
        .map(|(source, ids)| {
            let leg = Leg {
                ids: ids.clone(),
                status: new_status(source, &location, Health::Starting),
            };
            (source.region.clone(), leg)
        })
        .collect();
    let reader = LogsReader::new(&setup.config, group.identifier(), group.region.as_deref());
    let pattern = filter_pattern(&Selection {
        accounts: vec![setup.account.clone()],
        regions: legs.keys().cloned().collect(),
        ..Selection::default()
    });
    let mut backoff = StdDuration::from_secs(1);
    loop {
        let health = match reader.live_tail(&pattern).await {
            Ok(mut session) => {
                backoff = StdDuration::from_secs(1);
                if !send_all(&setup.tx, &mut legs, Health::Ok).await {
                    return;
                }
                let mut updates = 0_u64;
                loop {
                    let next = tokio::select! {
                        next = session.next() => next,
                        _ = stop.changed() => return,
                    };
                    match next {
                        Ok(Some(update)) => {
                            updates += 1;
                            if !take(&setup, &mut legs, update, updates).await {
                                return;
                            }
                        }
                        // Ended (after three hours): start another.
                        Ok(None) => break Health::Ok,
                        Err(e) => {
                            break Health::Failing {
                                message: e.to_string(),
                            };
                        }
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind,
                    ErrorKind::AccessDenied | ErrorKind::NotFound | ErrorKind::Unsupported
                ) =>
            {
                let message = format!("{e} (grant logs:StartLiveTail on {location})");
                send_all(&setup.tx, &mut legs, Health::Unavailable { message }).await;
                return;
            }
            Err(e) => Health::Failing {
                message: e.to_string(),
            },
        };
        if health != Health::Ok && !send_all(&setup.tx, &mut legs, health).await {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The group asked for, or the one the account's trail sends to.
async fn find_group(setup: &LiveTailSetup) -> Result<LogGroupUrl, String> {
    let home = setup
        .regions
        .first()
        .map_or("us-east-1", |(s, _)| s.region.as_str());
    let group = match &setup.choice {
        LogsChoice::Off => return Err("--trail-logs off".into()),
        LogsChoice::Group(url) => url.clone(),
        LogsChoice::Auto => {
            let trails = CloudTrailReader::new(&setup.config, home)
                .describe_trails()
                .await
                .map_err(|e| {
                    format!("cannot describe the trails (cloudtrail:DescribeTrails): {e}")
                })?;
            let arn = trails
                .iter()
                .filter(|t| {
                    t.multi_region
                        || t.home_region
                            .as_ref()
                            .is_some_and(|h| setup.regions.iter().any(|(s, _)| &s.region == h))
                })
                .find_map(|t| t.log_group_arn.clone())
                .ok_or("no trail of these regions sends to CloudWatch Logs")?;
            LogGroupUrl::parse(&format!("logs://{arn}"))
                .map_err(|e| format!("the trail names a log group kmstop cannot use: {e}"))?
        }
    };
    if group.arn.is_some() {
        return Ok(group);
    }
    // StartLiveTail takes ARNs only: a name is in the account's home
    // region.
    let region = group.region.clone().unwrap_or_else(|| home.to_string());
    LogGroupUrl::parse(&format!(
        "logs://arn:aws:logs:{region}:{}:log-group:{}",
        setup.account, group.name
    ))
}

/// Delivers one update's new events, region by region; false when the
/// consumer has gone.
async fn take(
    setup: &LiveTailSetup,
    legs: &mut BTreeMap<String, Leg>,
    update: TailUpdate,
    updates: u64,
) -> bool {
    let mut fresh: BTreeMap<String, Vec<PackedEvent>> = BTreeMap::new();
    for message in &update.messages {
        let Ok(Parsed::Kms(event)) = parse_record(&message.message) else {
            continue;
        };
        let Some(region) = event.region.as_deref() else {
            continue;
        };
        let other_account = event
            .recipient_account
            .as_deref()
            .is_some_and(|a| a != setup.account);
        let Some(leg) = legs.get_mut(region) else {
            continue;
        };
        if other_account || event.time < setup.from || !leg.ids.insert(&event.event_id, event.time)
        {
            continue;
        }
        let own = setup
            .own_identity
            .as_ref()
            .is_some_and(|me| me.made(&event));
        if own && !setup.include_own_calls {
            continue;
        }
        leg.status.events += 1;
        fresh
            .entry(region.to_string())
            .or_default()
            .push(PackedEvent::pack(&event));
    }
    for (region, mut events) in fresh {
        let Some(leg) = legs.get(&region) else {
            continue;
        };
        events.sort_by_key(PackedEvent::time);
        let msg = SourceMsg::Events {
            source: leg.status.source.clone(),
            events,
        };
        if !setup.tx.send(msg).await {
            return false;
        }
    }
    for leg in legs.values_mut() {
        let flipped = leg.status.sampled != update.sampled;
        leg.status.sampled = update.sampled;
        if update.sampled {
            leg.status.sampled_updates += 1;
        }
        if (flipped || updates.is_multiple_of(STATUS_EVERY))
            && !setup.tx.send(SourceMsg::LiveTail(leg.status.clone())).await
        {
            return false;
        }
    }
    true
}

async fn send_all(tx: &Outbox, legs: &mut BTreeMap<String, Leg>, health: Health) -> bool {
    for leg in legs.values_mut() {
        leg.status.health = health.clone();
        if !tx.send(SourceMsg::LiveTail(leg.status.clone())).await {
            return false;
        }
    }
    true
}

fn new_status(source: &SourceId, location: &str, health: Health) -> LiveTailStatus {
    LiveTailStatus {
        source: source.clone(),
        location: location.to_owned(),
        health,
        sampled: false,
        sampled_updates: 0,
        events: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::LogMessage;
    use crate::clock::ManualClock;

    fn record(id: &str, account: &str, region: &str) -> LogMessage {
        let message = format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-12-04T10:00:00Z","eventID":"{id}","awsRegion":"{region}","recipientAccountId":"{account}","userIdentity":{{"type":"AWSService","invokedBy":"s3.amazonaws.com"}}}}"#
        );
        LogMessage {
            stream: format!("{account}_CloudTrail_{region}"),
            message,
        }
    }

    #[tokio::test]
    async fn each_event_once_to_its_region_and_a_sample_said() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let regions: Vec<(SourceId, SharedDelivered)> = ["eu-west-1", "us-east-1"]
            .iter()
            .map(|r| {
                let source = SourceId {
                    account: "111122223333".into(),
                    region: (*r).into(),
                };
                (source, SharedDelivered::default())
            })
            .collect();
        // LookupEvents already delivered one of them.
        let at = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert!(regions[1].1.insert("seen-by-lookup", at));
        let setup = LiveTailSetup {
            config: SdkConfig::builder().build(),
            account: "111122223333".into(),
            regions: regions.clone(),
            choice: LogsChoice::Auto,
            from: at - chrono::Duration::hours(1),
            own_identity: None,
            include_own_calls: false,
            clock: Arc::new(ManualClock::new(at)),
            tx: Outbox::from(tx),
        };
        let mut legs: BTreeMap<String, Leg> = regions
            .iter()
            .map(|(source, ids)| {
                let leg = Leg {
                    ids: ids.clone(),
                    status: new_status(source, "logs://g", Health::Ok),
                };
                (source.region.clone(), leg)
            })
            .collect();
        let update = TailUpdate {
            messages: vec![
                record("a", "111122223333", "eu-west-1"),
                record("a", "111122223333", "eu-west-1"),
                record("seen-by-lookup", "111122223333", "us-east-1"),
                record("b", "999999999999", "eu-west-1"),
                record("c", "111122223333", "ap-south-1"),
                LogMessage {
                    stream: "s".into(),
                    message: "{\"eventSource\":\"s3.amazonaws.com\"}".into(),
                },
            ],
            sampled: true,
        };
        assert!(take(&setup, &mut legs, update, 1).await);
        drop(setup);
        let mut events = Vec::new();
        let mut sampled = Vec::new();
        while let Some(msg) = rx.recv().await {
            match msg {
                SourceMsg::Events { source, events: e } => {
                    events.extend(
                        e.iter()
                            .map(|e| (source.region.clone(), e.view().event_id.to_string())),
                    );
                }
                SourceMsg::LiveTail(status) => sampled.push((status.source.region, status.sampled)),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(events, [("eu-west-1".to_string(), "a".to_string())]);
        assert_eq!(
            sampled,
            [
                ("eu-west-1".to_string(), true),
                ("us-east-1".to_string(), true)
            ]
        );
        assert_eq!(legs["eu-west-1"].status.events, 1);
        assert_eq!(legs["us-east-1"].status.sampled_updates, 1);
    }

    #[test]
    fn choices_parse_from_the_flag() {
        assert_eq!("off".parse(), Ok(LogsChoice::Off));
        assert_eq!("auto".parse(), Ok(LogsChoice::Auto));
        let Ok(LogsChoice::Group(url)) = "trail-logs".parse::<LogsChoice>() else {
            panic!("a name is a group");
        };
        assert_eq!(url.name, "trail-logs");
        let Ok(LogsChoice::Group(url)) =
            "logs://arn:aws:logs:eu-west-1:111122223333:log-group:t".parse::<LogsChoice>()
        else {
            panic!("an ARN is a group");
        };
        assert_eq!(url.region.as_deref(), Some("eu-west-1"));
        assert!("a b".parse::<LogsChoice>().is_err());
    }
}
