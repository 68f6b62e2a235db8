//! kmstop: `top` for AWS KMS.
//!
//! Data flows one way:
//!
//! ```text
//! source (files, stdin)  ->  event (parse, normalize)  ->  dedup  ->  report (tally)  ->  table / csv / json
//! ```
//!
//! `event`, `dedup` and `report` do no I/O of their own and never read the
//! clock (`clock` is the only place that does); `source` reads inputs;
//! `run` wires a parsed command line to them.

pub mod aggregate;
pub mod alert;
pub mod cli;
pub mod clock;
pub mod dedup;
pub mod event;
pub mod inventory;
pub mod report;
pub mod run;
pub mod sink;
pub mod source;
pub mod store;
pub mod synth;
pub mod text;
pub mod timespec;
