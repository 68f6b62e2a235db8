//! The integration tests, one crate: each module was its own test binary
//! once, and each linked the AWS SDK (most of the suite's build time). The
//! hostile-input suite stays apart (`tests/hostile_cases.rs`): it measures
//! the peak memory of the processes it starts, which only a process of its
//! own can do.

#[path = "../support/mod.rs"]
mod support;

mod alert_engine;
mod app_update;
mod athena_dashboard;
mod athena_emulator;
mod athena_moto;
mod athena_report;
mod athena_resources;
mod athena_usage;
mod athena_who;
mod bad_input;
mod copies_props;
mod credential_hints;
mod dashboard_cli;
mod dashboard_details;
mod demo;
mod file_totals;
mod freshness_view;
mod generated_corpus;
mod hostile;
mod hostile_endpoint;
mod install_cli;
mod key_verdict;
mod keys_cli;
mod keys_moto;
mod keys_sim;
mod layers;
mod live_dashboard;
mod live_redrill;
mod live_sim;
mod live_sim_sweep;
mod live_tail;
mod logs_source;
mod matcher;
mod panes;
mod parser_props;
mod quiet_day;
mod quota_unrated;
mod readme;
mod real_fixtures;
mod report_alerts;
mod report_html;
mod report_markdown;
mod report_markdown_timeline;
mod report_usage;
mod resources;
mod resources_pane;
mod rules_cli;
mod s3_redrill;
mod s3_source;
mod scenarios;
mod sigma_rules;
mod sim_boto3;
mod sim_sdk;
mod sim_wire;
mod spike_day;
mod store_counted;
mod store_props;
mod summary_props;
mod sweep_sim;
mod synth;
mod trail_queue;
mod trail_union;
mod tui_e2e;
mod union_dashboard;
mod usage_pane;
mod who;
mod who_resource;
