//! kmstop: `top` for AWS KMS.
//!
//! Data flows one way:
//!
//! ```text
//! source (files, stdin, LookupEvents, KMS) -> event (parse, normalize) -> dedup -> report (tally) -> table / csv / json
//!        |                                                                  \-> alert (rules, engine) -> report.alerts, sink
//!        \-> feed::SourceMsg (one message type) -> app::Data: store (buckets) -> aggregate (rates, series) -> alert
//! ```
//!
//! The core — `event`, `dedup`, `store`, `aggregate`, `alert`, `inventory`,
//! `feed` — does no I/O, uses neither threads nor a terminal, and never
//! reads the clock (`clock` is the only place that does: time is an input,
//! and `run::main` builds the one clock every command uses). `source`
//! reads inputs (log files, stdin, and through `aws` the LookupEvents
//! pollers and the key inventory) and sends what it reads as
//! [`feed::SourceMsg`]s; `sink` writes alerts out; `config` and
//! `rules_file` read the user's settings; `report` runs the engine over
//! files on reader threads; `run` wires a parsed command line to them;
//! `synth` generates CloudTrail corpora for tests and benchmarks; `sim`
//! serves a simulated account's CloudTrail, KMS and STS on loopback; `aws`
//! is the read-only door to AWS.
//!
//! The dashboard adds three layers on top of the core:
//!
//! ```text
//! tui (terminal guard, input thread, loop) --Action--> app::update --> App { Data, view state }
//!   ^  SourceMsg and input over one bounded channel                       |
//!   |  (source::file_feed, run::live pollers, input, signals)             v
//!   +------------------------------------------------ ui::draw(&App, &Theme) <- app::query
//! ```
//!
//! `app` is pure state (testable without a terminal; it imports nothing
//! from `ui`, `tui`, `source` or `report`), `ui` only draws the snapshot
//! with a theme the loop owns, and `tui` is the only place that touches
//! the terminal.

pub mod aggregate;
pub mod alert;
pub mod app;
pub mod athena;
pub mod aws;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dedup;
pub mod deletion;
pub mod event;
pub mod feed;
pub mod inventory;
pub mod memory;
pub mod report;
pub mod rules_file;
pub mod run;
pub mod sim;
pub mod sink;
pub mod source;
pub mod store;
pub mod synth;
pub mod text;
pub mod timespec;
pub mod tui;
pub mod ui;
pub mod who;
