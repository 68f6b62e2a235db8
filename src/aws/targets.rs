//! Which accounts and regions kmstop reads, and the SDK configuration for
//! each: the user's own profiles, SSO and roles through `aws-config`, with
//! `--endpoint-url` pointing every service elsewhere (the simulator, moto).

use std::time::Duration;

use aws_config::{AppName, BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::os_shim_internal::{Env, Fs};

use super::error::{AwsError, ErrorKind};

/// The SDK's app name: CloudTrail records it in the `userAgent` of every
/// call kmstop makes (`app/kmstop`), so kmstop can recognise its own calls.
pub const APP_NAME: &str = "kmstop";

/// Regions `--all-regions` reads: the commercial partition. Opt-in regions
/// the account has not enabled answer with an error and are shown as
/// unavailable; the others run on.
pub const ALL_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "ca-west-1",
    "mx-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
];

/// What the command line says about targets.
#[derive(Debug, Clone, Default)]
pub struct TargetOptions {
    /// Profiles to read, each an account; empty means the default chain
    /// (`AWS_PROFILE`, env credentials, SSO, instance role…).
    pub profiles: Vec<String>,
    /// Regions to read; empty means each profile's own region.
    pub regions: Vec<String>,
    pub all_regions: bool,
    /// One endpoint for every service kmstop calls.
    pub endpoint_url: Option<String>,
    /// Fixed credentials instead of the user's (the demo): no profile
    /// file and no `AWS_*` variable is read at all, and `endpoint_url`
    /// is required.
    pub static_credentials: Option<(String, String)>,
}

/// One account's loaded configuration and the regions to read in it.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub profile: Option<String>,
    pub config: SdkConfig,
    pub regions: Vec<String>,
}

/// Loads the configuration of one profile (`None`: the default chain).
/// Fails early, with what to do, on a profile kmstop cannot use.
pub async fn load_account(
    profile: Option<&str>,
    options: &TargetOptions,
) -> Result<AccountConfig, AwsError> {
    if let Some((key, secret)) = &options.static_credentials {
        return hermetic_account(key, secret, options);
    }
    let config = load_profile(profile, options).await?;
    let regions = if options.all_regions {
        ALL_REGIONS.iter().map(ToString::to_string).collect()
    } else if options.regions.is_empty() {
        match config.region() {
            Some(region) => vec![region.to_string()],
            None => {
                return Err(AwsError::new(
                    ErrorKind::Credentials,
                    format!(
                        "no region for {}: pass --region (or --all-regions), set AWS_REGION, or add `region = …` to the profile",
                        profile_label(profile)
                    ),
                ));
            }
        }
    } else {
        dedup(&options.regions)
    };
    Ok(AccountConfig {
        profile: profile.map(str::to_string),
        config,
        regions,
    })
}

/// The SDK configuration of one profile, regions aside: for calls whose
/// region comes from elsewhere (a bucket answers with its own). Its
/// region is the first `--region`, else the profile's, else us-east-1.
pub async fn load_config(
    profile: Option<&str>,
    options: &TargetOptions,
) -> Result<SdkConfig, AwsError> {
    if let Some((key, secret)) = &options.static_credentials {
        return hermetic_account(key, secret, options).map(|a| a.config);
    }
    let config = load_profile(profile, options).await?;
    if config.region().is_some() {
        return Ok(config);
    }
    Ok(config
        .into_builder()
        .region(Region::new("us-east-1"))
        .build())
}

/// The profile's configuration as `aws-config` loads it.
async fn load_profile(
    profile: Option<&str>,
    options: &TargetOptions,
) -> Result<SdkConfig, AwsError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .app_name(app_name()?)
        .timeout_config(timeouts())
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(name) = profile {
        refuse_mfa_profile(name).await?;
        loader = loader.profile_name(name);
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(first) = options.regions.first() {
        loader = loader.region(Region::new(first.clone()));
    }
    Ok(loader.load().await)
}

fn app_name() -> Result<AppName, AwsError> {
    AppName::new(APP_NAME).map_err(|e| AwsError::new(ErrorKind::Other, e.to_string()))
}

/// The demo's configuration: fixed credentials, an explicit endpoint and
/// region, and nothing else. It is built without `aws-config`'s loader on
/// purpose: the loader reads `~/.aws/config`, `AWS_PROFILE`, `AWS_REGION`
/// and the per-service `AWS_ENDPOINT_URL_<SERVICE>` variables — the last of
/// which the service clients would prefer even to an explicit endpoint, and
/// could send the demo's calls to a real account.
fn hermetic_account(
    key: &str,
    secret: &str,
    options: &TargetOptions,
) -> Result<AccountConfig, AwsError> {
    let Some(url) = &options.endpoint_url else {
        return Err(AwsError::new(
            ErrorKind::Other,
            "fixed credentials need an explicit endpoint".to_string(),
        ));
    };
    let regions = if options.regions.is_empty() {
        vec!["us-east-1".to_string()]
    } else {
        dedup(&options.regions)
    };
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .app_name(app_name()?)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            key,
            secret,
            None,
            None,
            "kmstop-static",
        )))
        .region(Region::new(regions[0].clone()))
        .endpoint_url(url)
        .timeout_config(timeouts())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .build();
    Ok(AccountConfig {
        profile: None,
        config,
        regions,
    })
}

/// `profile X` or `the default credentials`, for messages.
pub fn profile_label(profile: Option<&str>) -> String {
    profile.map_or_else(
        || "the default credentials".to_string(),
        |p| format!("profile {p}"),
    )
}

/// The Rust SDK cannot prompt for an MFA code, so a profile with
/// `mfa_serial` would fail later with a puzzling STS error: say it now.
async fn refuse_mfa_profile(name: &str) -> Result<(), AwsError> {
    let profiles = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &aws_runtime::env_config::file::EnvConfigFiles::default(),
        None,
    )
    .await;
    let Ok(profiles) = profiles else {
        // An unreadable config file is reported by the credential chain.
        return Ok(());
    };
    let Some(found) = profiles.get_profile(name) else {
        return Err(AwsError::new(
            ErrorKind::Credentials,
            format!(
                "profile {name} is not in ~/.aws/config or ~/.aws/credentials (see `aws configure list-profiles`)"
            ),
        ));
    };
    if found.get("mfa_serial").is_some() {
        return Err(AwsError::new(
            ErrorKind::Credentials,
            format!(
                "profile {name} asks for an MFA code (mfa_serial), which the AWS SDK for Rust cannot prompt for: \
                 use an SSO profile (`aws sso login --profile {name}`), or export session credentials \
                 (`aws sts get-session-token`, aws-vault exec) and run kmstop without --profile"
            ),
        ));
    }
    Ok(())
}

/// Bounded waits: a hung connection must not freeze a poller.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(90))
        .build()
}

fn dedup(regions: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in regions {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}
