//! What every live command does first: load each profile, learn who it is
//! (failing fast with what to do), and list the account × region sources.

use crate::aws::{AccountConfig, TargetOptions, caller_identity, load_account};
use crate::live::{CallerIdentity, SourceId};
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

/// Loads every profile of `options` and checks its identity; the first
/// failure is returned as the message to print.
pub async fn accounts(options: &TargetOptions) -> Result<Vec<Account>, String> {
    let profiles: Vec<Option<&str>> = if options.profiles.is_empty() {
        vec![None]
    } else {
        options.profiles.iter().map(|p| Some(p.as_str())).collect()
    };
    let mut out = Vec::new();
    for profile in profiles {
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
