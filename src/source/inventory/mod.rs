//! The KMS key inventory of one account × region: [`fetch`] reads it (no
//! scheduling, so it is tested on its own), [`poller`] keeps it fresh on
//! an interval and re-reads single keys when events change them.

pub mod disk;
mod fetch;
mod poller;
#[cfg(test)]
mod tests;

pub use fetch::{
    CONCURRENCY, FAILED, LAST_USAGE_TTL, LastUsageCache, NO_ACCESS, NOT_APPLICABLE,
    RegionInventory, fetch_key, fetch_region,
};
pub use poller::{DEFAULT_INTERVAL, InventoryHandle, changes_key, spawn};
