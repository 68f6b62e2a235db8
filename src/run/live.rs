//! What every live command does first: load each profile, learn who it is
//! (failing fast with what to do), and list the account × region sources.

use crate::aws::{AccountConfig, TargetOptions, caller_identity, load_account};
use crate::feed::{CallerIdentity, SourceId};
use crate::text::escape_control;

/// One account, known and ready.
pub struct Account {
    pub identity: CallerIdentity,
    pub config: AccountConfig,
}

impl Account {
    pub fn sources(&self) -> impl Iterator<Item = SourceId> + '_ {
        self.config.regions.iter().map(|region| SourceId {
            account: self.identity.account.clone(),
            region: region.clone(),
        })
    }
}

/// A runtime for the AWS calls of one command; the core never sees it.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("kmstop-aws")
        .build()
}

/// The profiles to read: those given, or the default chain (`None`).
pub fn profiles(options: &TargetOptions) -> Vec<Option<&str>> {
    if options.profiles.is_empty() {
        vec![None]
    } else {
        options.profiles.iter().map(|p| Some(p.as_str())).collect()
    }
}

/// Loads every profile of `options` and checks its identity; the first
/// failure is returned as the message to print.
pub async fn accounts(options: &TargetOptions) -> Result<Vec<Account>, String> {
    let mut out = Vec::new();
    for profile in profiles(options) {
        let config = load_account(profile, options)
            .await
            .map_err(|e| escape_control(&e.to_string()).into_owned())?;
        let identity = caller_identity(&config.config, profile)
            .await
            .map_err(|e| escape_control(&e.to_string()).into_owned())?;
        if out
            .iter()
            .any(|a: &Account| a.identity.account == identity.account)
        {
            tracing::warn!("account {} given twice; reading it once", identity.account);
            continue;
        }
        out.push(Account { identity, config });
    }
    Ok(out)
}

/// The poller's schedule from the live flags (checked by `PollArgs::check`).
pub fn plan_settings(poll: &crate::cli::PollArgs) -> crate::source::lookup::PlanSettings {
    crate::source::lookup::PlanSettings {
        poll_interval: poll.poll_interval,
        rereads: poll.reread_after.clone(),
        // Batch re-reads over a few polls, never longer than the shortest
        // re-read delay.
        reread_batch: (poll.poll_interval * 12)
            .min(poll.reread_after.first().copied().unwrap_or_default()),
        ..crate::source::lookup::PlanSettings::default()
    }
}

/// How the live sources run.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    pub backfill: chrono::Duration,
    pub plan: crate::source::lookup::PlanSettings,
    pub include_own_calls: bool,
    /// How often the key inventory is read in full.
    pub inventory_interval: std::time::Duration,
    /// Which trail to follow beside LookupEvents, and how often.
    pub trail: crate::source::trail_find::TrailPaths,
    pub trail_interval: std::time::Duration,
}

/// The running live sources: pollers on their runtime. Dropping it stops
/// them.
pub struct LiveSession {
    runtime: Option<tokio::runtime::Runtime>,
    stop: tokio::sync::watch::Sender<bool>,
    pacers: Vec<(SourceId, std::sync::Arc<crate::source::lookup::Pacer>)>,
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(rt) = self.runtime.take() {
            // Pollers save their checkpoints on stop; give them a moment.
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }
}

impl LiveSession {
    /// Starts answering the dashboard's asks for records it no longer
    /// holds, with LookupEvents in each account × region read; the
    /// answers go into `out`. Returns where to send the asks.
    pub fn serve_records<M: From<crate::feed::SourceMsg> + Send + 'static>(
        &self,
        accounts: &[Account],
        out: std::sync::mpsc::SyncSender<M>,
    ) -> tokio::sync::mpsc::UnboundedSender<crate::feed::RecordAsk> {
        use crate::source::lookup::refetch::{RecordReaders, serve};

        let (asks, asked) = tokio::sync::mpsc::unbounded_channel();
        let readers = accounts
            .iter()
            .flat_map(|account| {
                account.sources().filter_map(|source| {
                    let reader =
                        crate::aws::CloudTrailReader::new(&account.config.config, &source.region);
                    // Paced with the source's poller: one budget a region.
                    let (_, pacer) = self.pacers.iter().find(|(s, _)| *s == source)?;
                    Some((source, reader, std::sync::Arc::clone(pacer)))
                })
            })
            .collect();
        if let Some(rt) = &self.runtime {
            let outbox = crate::source::outbox::Outbox::blocking(out);
            rt.spawn(serve(RecordReaders::new(readers), asked, outbox));
        }
        asks
    }
}

/// Starts one CloudTrail poller and one key-inventory poller per account
/// × region; their messages go into the consumer's bounded channel `out`,
/// the identities first. Each poller makes its source's inventory re-read
/// a key an event changed (`ScheduleKeyDeletion`, …).
pub fn start_live<M: From<crate::feed::SourceMsg> + Send + 'static>(
    runtime: tokio::runtime::Runtime,
    accounts: &[Account],
    settings: &LiveSettings,
    clock: &std::sync::Arc<dyn crate::clock::Clock>,
    out: std::sync::mpsc::SyncSender<M>,
) -> LiveSession {
    use crate::feed::SourceMsg;
    use crate::source::lookup::PollerSettings;
    use crate::source::outbox::Outbox;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for account in accounts {
        let _ = out.send(SourceMsg::Identity(account.identity.clone()).into());
    }
    // The pollers send straight into the consumer's channel; a full one
    // makes them wait.
    let outbox = Outbox::blocking(out);
    let pacers = {
        let _guard = runtime.enter();
        let spawned = spawn_sources(
            accounts,
            clock,
            &outbox,
            &stop_rx,
            &settings.trail,
            |account: &Account, _| {
                Ok::<_, std::convert::Infallible>(SourcePlan {
                    poller: PollerSettings {
                        plan: settings.plan.clone(),
                        backfill: settings.backfill,
                        include_own_calls: settings.include_own_calls,
                        own_identity: crate::event::OwnIdentity::from_arn(&account.identity.arn),
                        ..PollerSettings::default()
                    },
                    inventory: Some(settings.inventory_interval),
                    trail_interval: settings.trail_interval,
                })
            },
        );
        // The dashboard's pollers run until the session stops them.
        let Ok(spawned) = spawned;
        spawned.pacers
    };
    LiveSession {
        runtime: Some(runtime),
        stop: stop_tx,
        pacers,
    }
}

/// What one account × region's sources do: its LookupEvents poller's
/// settings, and whether (and how often) its key inventory is read.
pub struct SourcePlan {
    pub poller: crate::source::lookup::PollerSettings,
    pub inventory: Option<std::time::Duration>,
    /// How often the account's trail is listed for new objects.
    pub trail_interval: std::time::Duration,
}

/// The sources [`spawn_sources`] started.
pub struct Spawned {
    pub tasks: Vec<tokio::task::JoinHandle<crate::source::lookup::Ended>>,
    /// Each account × region's LookupEvents pacer: any other lookup there
    /// (the dashboard's reads of one event) waits on it too.
    pub pacers: Vec<(SourceId, std::sync::Arc<crate::source::lookup::Pacer>)>,
}

/// Spawns, on the current tokio runtime, one LookupEvents poller per
/// account × region, and that source's key inventory when its plan asks
/// (the poller then has it re-read keys that events change); all send
/// into `tx`. The one live start-up of the dashboard, the demo and `tail`.
/// `plan` may refuse a source; nothing is spawned after a refusal.
pub fn spawn_sources<E>(
    accounts: &[Account],
    clock: &std::sync::Arc<dyn crate::clock::Clock>,
    tx: &crate::source::outbox::Outbox,
    stop: &tokio::sync::watch::Receiver<bool>,
    trail: &crate::source::trail_find::TrailPaths,
    mut plan: impl FnMut(&Account, &SourceId) -> Result<SourcePlan, E>,
) -> Result<Spawned, E> {
    use std::sync::Arc;

    use crate::aws::{CloudTrailReader, KmsReader};
    use crate::source::inventory;
    use crate::source::lookup::{Pacer, Poller, SharedDelivered};

    let mut tasks = Vec::new();
    let mut pacers = Vec::new();
    for account in accounts {
        let mut regions = Vec::new();
        let mut follow_from = None;
        let mut resumed_from: Option<chrono::DateTime<chrono::Utc>> = None;
        for source in account.sources() {
            let SourcePlan {
                poller: mut settings,
                inventory: interval,
                trail_interval,
            } = plan(account, &source)?;
            settings.inventory = interval.map(|interval| {
                inventory::spawn(
                    KmsReader::new(&account.config.config, &source.region),
                    source.clone(),
                    interval,
                    Arc::clone(clock),
                    tx.clone(),
                )
                .0
            });
            let ids = SharedDelivered::default();
            settings.delivered = ids.clone();
            regions.push((source.clone(), ids));
            follow_from.get_or_insert((
                clock.now() - settings.backfill,
                trail_interval,
                settings.own_identity.clone(),
                settings.include_own_calls,
            ));
            let pacer = Pacer::lookup_events();
            pacers.push((source.clone(), Arc::clone(&pacer)));
            let poller = Poller::new(
                CloudTrailReader::new(&account.config.config, &source.region),
                source.clone(),
                settings,
                pacer,
                Arc::clone(clock),
                tx.clone(),
            );
            // Before the poller runs, its ids are only those its
            // checkpoint restored (it delivers newest first once running).
            if let Some((_, ids)) = regions.last()
                && let Some(oldest) = ids.oldest()
            {
                resumed_from = Some(resumed_from.map_or(oldest, |r| r.min(oldest)));
            }
            tasks.push(tokio::spawn(poller.run(stop.clone())));
        }
        if let Some((from, interval, own_identity, include_own_calls)) = follow_from {
            let start = FollowStart {
                from,
                resumed_from,
                interval,
                own_identity,
                include_own_calls,
            };
            spawn_followers(account, regions, start, trail, clock, tx, stop);
        }
    }
    Ok(Spawned { tasks, pacers })
}

/// Where an account's trail followers start, from its pollers' settings.
struct FollowStart {
    from: chrono::DateTime<chrono::Utc>,
    resumed_from: Option<chrono::DateTime<chrono::Utc>>,
    interval: std::time::Duration,
    own_identity: Option<crate::event::OwnIdentity>,
    include_own_calls: bool,
}

/// Starts following the account's trail in S3 and, when asked, its log
/// group with Live Tail, beside the pollers and through their ids.
fn spawn_followers(
    account: &Account,
    regions: Vec<(SourceId, crate::source::lookup::SharedDelivered)>,
    start: FollowStart,
    trail: &crate::source::trail_find::TrailPaths,
    clock: &std::sync::Arc<dyn crate::clock::Clock>,
    tx: &crate::source::outbox::Outbox,
    stop: &tokio::sync::watch::Receiver<bool>,
) {
    use crate::source::live_tail::{LiveTailSetup, LogsChoice, follow_live_tail};
    use crate::source::trail_find::TrailChoice;
    use crate::source::trail_follow::{FollowSetup, follow};

    if trail.logs != LogsChoice::Off {
        let setup = LiveTailSetup {
            config: account.config.config.clone(),
            account: account.identity.account.clone(),
            regions: regions.clone(),
            choice: trail.logs.clone(),
            // Live Tail brings only what happens from now on.
            from: start.from,
            own_identity: start.own_identity.clone(),
            include_own_calls: start.include_own_calls,
            clock: std::sync::Arc::clone(clock),
            tx: tx.clone(),
        };
        tokio::spawn(follow_live_tail(setup, stop.clone()));
    }
    if trail.s3 != TrailChoice::Off {
        let setup = FollowSetup {
            config: account.config.config.clone(),
            account: account.identity.account.clone(),
            regions,
            choice: trail.s3.clone(),
            queue_url: trail.queue.clone(),
            from: start.from,
            resumed_from: start.resumed_from,
            interval: start.interval,
            own_identity: start.own_identity,
            include_own_calls: start.include_own_calls,
            clock: std::sync::Arc::clone(clock),
            tx: tx.clone(),
        };
        tokio::spawn(follow(setup, stop.clone()));
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub(super) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            // No SIGTERM handler: Ctrl-C still stops it.
            let _ = ctrl_c.await;
            return;
        };
        // A closed terminal (SIGHUP) stops it as cleanly as Ctrl-C.
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        if let Ok(mut hup) = hangup {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        } else {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
