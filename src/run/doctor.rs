//! `kmstop doctor`: every check a person would do by hand before trusting
//! an empty dashboard — credentials, each region, each read permission,
//! and whether the account's trails leave KMS events out — each failure
//! with the fix.

use std::fmt::Write as _;
use std::process::ExitCode;

use chrono::Duration;

use crate::aws::{
    AccountConfig, AwsError, CloudTrailReader, ErrorKind, KmsReader, LookupWindow, credential_hint,
    identify, load_account, one_line,
};
use crate::cli::DoctorArgs;
use crate::clock::Clock;
use crate::text::escape_control;

#[derive(Default)]
struct Findings {
    text: String,
    failed: bool,
    warnings: usize,
}

impl Findings {
    fn ok(&mut self, what: &str) {
        let _ = writeln!(self.text, "  ok    {}", escape_control(what));
    }

    fn warn(&mut self, what: &str, fix: &str) {
        self.warnings += 1;
        let _ = writeln!(
            self.text,
            "  warn  {}\n        fix: {}",
            escape_control(what),
            escape_control(fix)
        );
    }

    fn fail(&mut self, what: &str, fix: &str) {
        self.failed = true;
        let _ = writeln!(
            self.text,
            "  FAIL  {}\n        fix: {}",
            escape_control(what),
            escape_control(fix)
        );
    }

    fn heading(&mut self, what: &str) {
        let _ = writeln!(self.text, "{}", escape_control(what));
    }
}

pub fn run(args: &DoctorArgs, clock: &dyn Clock) -> ExitCode {
    let rt = match super::live::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kmstop: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = args.targets.options();
    let mut findings = Findings::default();
    rt.block_on(async {
        for profile in super::live::profiles(&options) {
            check_profile(profile, &options, clock, &mut findings).await;
        }
    });
    // A reader that went away (`| head`) can be told nothing more.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), findings.text.as_bytes());
    let warnings = match findings.warnings {
        0 => String::new(),
        1 => " (and 1 warning)".to_string(),
        n => format!(" (and {n} warnings)"),
    };
    if findings.failed {
        super::say(format_args!(
            "\nSome checks failed{warnings}: kmstop would miss data until they are fixed."
        ));
        ExitCode::FAILURE
    } else if findings.warnings > 0 {
        // A warning is something to fix, not a pass: scripts see it too.
        let n = findings.warnings;
        super::say(format_args!(
            "\n{n} warning{}: kmstop works, but see the fixes above.",
            if n == 1 { "" } else { "s" }
        ));
        ExitCode::FAILURE
    } else {
        super::say(format_args!("\nAll checks passed."));
        ExitCode::SUCCESS
    }
}

async fn check_profile(
    profile: Option<&str>,
    options: &crate::aws::TargetOptions,
    clock: &dyn Clock,
    f: &mut Findings,
) {
    f.heading(&crate::aws::profile_label(profile));
    let account = match load_account(profile, options).await {
        Ok(account) => account,
        Err(e) => {
            f.fail(
                &format!("configuration: {}", e.message),
                "see the message above",
            );
            return;
        }
    };
    match identify(&account.config, profile).await {
        Ok(id) => f.ok(&format!("credentials: {} (account {})", id.arn, id.account)),
        Err(e) => {
            let who = crate::aws::profile_label(profile);
            match credential_hint(&e, profile) {
                Some(hint) => f.fail(
                    &format!(
                        "credentials: {who}: {} (the AWS SDK said: {})",
                        hint.problem,
                        one_line(&e.message)
                    ),
                    &format!("{}; every other check needs them", hint.fix),
                ),
                None => f.fail(
                    &format!("credentials: {who}: {}", one_line(&e.to_string())),
                    "fix the credentials first: every other check needs them",
                ),
            }
            return;
        }
    }
    for region in &account.regions {
        check_region(&account, region, clock.now(), f).await;
    }
}

async fn check_region(
    account: &AccountConfig,
    region: &str,
    now: chrono::DateTime<chrono::Utc>,
    f: &mut Findings,
) {
    f.heading(&format!("  region {region}"));
    let cloudtrail = CloudTrailReader::new(&account.config, region);
    let window = LookupWindow {
        start: now - Duration::minutes(15),
        end: now,
    };
    match cloudtrail.lookup_kms_page(window, None).await {
        Ok(page) => f.ok(&format!(
            "cloudtrail:LookupEvents ({} KMS events in the last 15 min on the first page)",
            page.events.len()
        )),
        Err(e) if e.kind == ErrorKind::Credentials => {
            f.fail(
                &format!("region {region} refuses these credentials: {e}"),
                "enable the region for the account (opt-in regions), or leave it out of --region",
            );
            return;
        }
        Err(e) => permission(f, "cloudtrail:LookupEvents", &e, true),
    }
    let kms = KmsReader::new(&account.config, region);
    check_kms(&kms, f).await;
    check_trails(&account.config, &cloudtrail, region, now, f).await;
}

async fn check_kms(kms: &KmsReader, f: &mut Findings) {
    match kms.list_keys().await {
        Ok(keys) => {
            f.ok(&format!("kms:ListKeys ({} keys)", keys.len()));
            if let Some(key) = keys.first() {
                match kms.describe_key(&key.key_id).await {
                    Ok(_) => f.ok("kms:DescribeKey"),
                    Err(e) => permission(f, "kms:DescribeKey", &e, true),
                }
                match kms.rotation_status(&key.key_id).await {
                    Ok(_) => f.ok("kms:GetKeyRotationStatus"),
                    Err(e) => permission(f, "kms:GetKeyRotationStatus", &e, false),
                }
                match kms.key_policy(&key.key_id).await {
                    Ok(_) => f.ok("kms:GetKeyPolicy (optional)"),
                    Err(e) => permission(f, "kms:GetKeyPolicy (optional)", &e, false),
                }
            }
        }
        Err(e) => permission(f, "kms:ListKeys", &e, true),
    }
    match kms.list_aliases().await {
        Ok(aliases) => f.ok(&format!("kms:ListAliases ({} aliases)", aliases.len())),
        Err(e) => permission(f, "kms:ListAliases", &e, true),
    }
}

async fn check_trails(
    config: &aws_config::SdkConfig,
    cloudtrail: &CloudTrailReader,
    region: &str,
    now: chrono::DateTime<chrono::Utc>,
    f: &mut Findings,
) {
    let trails = match cloudtrail.describe_trails().await {
        Ok(trails) => trails,
        Err(e) => {
            permission(
                f,
                "cloudtrail:DescribeTrails (optional: the coverage check)",
                &e,
                false,
            );
            return;
        }
    };
    let home: Vec<_> = trails
        .iter()
        .filter(|t| t.home_region.as_deref().is_none_or(|h| h == region))
        .collect();
    if trails.is_empty() {
        f.warn(
            "no trail: LookupEvents (90 days) is the only history; there are no log files for `report`",
            "create a multi-region trail to keep KMS events beyond 90 days",
        );
    }
    for trail in home {
        let name = trail.arn.as_deref().unwrap_or(&trail.name);
        match cloudtrail.trail_excludes_kms(name).await {
            Ok(true) => f.warn(
                &format!("trail {} leaves KMS events out of its log files", trail.name),
                "live mode is unaffected (LookupEvents sees them); for `report` over S3 logs, remove kms.amazonaws.com from ExcludeManagementEventSources",
            ),
            Ok(false) => {
                f.ok(&format!("trail {} logs KMS events", trail.name));
                check_trail_bucket(config, trail, f).await;
                check_trail_log_group(config, trail, now, f).await;
            }
            Err(e) => permission(f, "cloudtrail:GetEventSelectors (optional)", &e, false),
        }
    }
}

/// Whether the live view may read the trail beside LookupEvents.
async fn check_trail_bucket(
    config: &aws_config::SdkConfig,
    trail: &crate::aws::TrailInfo,
    f: &mut Findings,
) {
    let Some(bucket) = trail.s3_bucket.as_deref() else {
        return;
    };
    match crate::aws::S3Reader::open(config, bucket).await {
        Ok(_) => f.ok(&format!(
            "s3:ListBucket on {bucket}: the live view reads trail {} beside LookupEvents",
            trail.name
        )),
        Err(e) => f.warn(
            &format!("trail {}'s bucket {bucket}: {e}", trail.name),
            &format!(
                "allow s3:ListBucket on arn:aws:s3:::{bucket} and s3:GetObject on arn:aws:s3:::{bucket}/* so the live view counts every event, past LookupEvents' ~100 events/s (README: The IAM policy)"
            ),
        ),
    }
}

/// Whether `report --source logs://…` and `--trail-logs` may read the
/// log group the trail also sends to (one small `FilterLogEvents`; Live
/// Tail itself is billed, so it is not tried).
async fn check_trail_log_group(
    config: &aws_config::SdkConfig,
    trail: &crate::aws::TrailInfo,
    now: chrono::DateTime<chrono::Utc>,
    f: &mut Findings,
) {
    use crate::source::log_group::LogGroupUrl;

    let Some(arn) = trail.log_group_arn.as_deref() else {
        return;
    };
    let Ok(group) = LogGroupUrl::parse(&format!("logs://{arn}")) else {
        f.warn(
            &format!(
                "trail {} names a log group kmstop cannot read: {arn}",
                trail.name
            ),
            "see the trail's CloudWatch Logs settings",
        );
        return;
    };
    let reader = crate::aws::LogsReader::new(config, group.identifier(), group.region.as_deref());
    let now = now.timestamp_millis();
    let probe = crate::aws::FilterRequest {
        pattern: "",
        start_ms: Some(now - 60_000),
        end_ms: Some(now),
        next: None,
    };
    match reader.filter_page(probe).await {
        Ok(_) => f.ok(&format!(
            "logs:FilterLogEvents on {group}: `report --source {group}` and `--trail-logs auto` can read trail {}",
            trail.name
        )),
        Err(e) => f.warn(
            &format!("trail {}'s log group {group}: {e}", trail.name),
            &format!(
                "allow logs:FilterLogEvents (and logs:StartLiveTail for --trail-logs) on {arn}:* (README: The IAM policy)"
            ),
        ),
    }
}

fn permission(f: &mut Findings, action: &str, e: &AwsError, required: bool) {
    let fix = match e.kind {
        ErrorKind::AccessDenied => format!(
            "allow `{}` in the IAM policy (README: least privilege)",
            action.split(' ').next().unwrap_or(action)
        ),
        ErrorKind::Throttled | ErrorKind::Server | ErrorKind::Network => {
            "transient: run doctor again".to_string()
        }
        _ => "see the message".to_string(),
    };
    let what = format!("{action}: {e}");
    if required {
        f.fail(&what, &fix);
    } else {
        f.warn(&what, &fix);
    }
}
