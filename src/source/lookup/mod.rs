//! The live CloudTrail source: LookupEvents polled per account × region,
//! paced, planned so nothing is missed or doubled (see `plan`), and
//! checkpointed. Also the historical sweep behind `report --source aws`.

mod checkpoint;
mod delay;
mod pacer;
mod plan;
mod poller;
pub mod refetch;
mod seen;
mod stats;
mod sweep;

pub use checkpoint::{Checkpoint, checkpoint_path, state_dir};
pub use delay::DelayModel;
pub use pacer::Pacer;
pub use plan::{
    Gap, Next, PRIOR_RECENT_REACH, Plan, PlanSettings, PlanState, Scan, ScanKind, SecondsWindow,
    Slice, floor_second,
};
pub use poller::{Ended, LookupApi, Poller, PollerSettings};
pub use seen::{Delivered, SharedDelivered};
pub use sweep::{AHEAD, CHUNK, Lockstep, Outlet, Record, Stopped, Swept, sweep};

#[cfg(test)]
mod mocked;
#[cfg(test)]
mod test_clock;
#[cfg(test)]
mod tests;
