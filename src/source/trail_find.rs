//! Which trail to follow in an account (`--trail`): one named, one given
//! by its bucket, or (`auto`) the first the account's CloudTrail
//! describes that logs KMS events in the regions read and whose bucket
//! this identity may list. When there is none, why — said once, and the
//! live view runs on LookupEvents alone.

use aws_config::SdkConfig;

use super::trail_layout::S3Url;
use crate::aws::{CloudTrailReader, S3Reader, TrailInfo};

/// `--trail auto|off|NAME|s3://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrailChoice {
    #[default]
    Auto,
    Off,
    Named(String),
    Bucket(S3Url),
}

impl std::str::FromStr for TrailChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "off" => Ok(Self::Off),
            s if s.starts_with("s3://") => S3Url::parse(s).map(Self::Bucket),
            "" => Err("a trail name, auto, off or s3://BUCKET[/PREFIX]".into()),
            s if s.chars().any(char::is_control) || s.len() > 2048 => {
                Err(format!("{s:?} is not a trail name"))
            }
            s => Ok(Self::Named(s.to_string())),
        }
    }
}

/// Where the live view reads the trail beside LookupEvents: its bucket
/// (`--trail`) and its log group with Live Tail (`--trail-logs`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrailPaths {
    pub s3: TrailChoice,
    pub logs: super::live_tail::LogsChoice,
    /// `--sqs-queue`: new objects of the bucket from its notifications.
    pub queue: Option<String>,
}

/// The trail to follow and a reader of its bucket, or why there is none.
///
/// # Errors
/// No trail fits: the message says which were looked at and why each was
/// passed over, in words a person can act on.
pub async fn find_trail(
    config: &SdkConfig,
    regions: &[String],
    choice: &TrailChoice,
) -> Result<(S3Url, S3Reader), String> {
    let candidates = match choice {
        TrailChoice::Off => return Err("--trail off".into()),
        TrailChoice::Bucket(url) => {
            return S3Reader::open(config, &url.bucket)
                .await
                .map(|reader| (url.clone(), reader))
                .map_err(|e| format!("{url}: {e}"));
        }
        TrailChoice::Auto | TrailChoice::Named(_) => {
            let home = regions.first().map_or("us-east-1", String::as_str);
            let cloudtrail = CloudTrailReader::new(config, home);
            let trails = cloudtrail.describe_trails().await.map_err(|e| {
                format!("cannot describe the trails (cloudtrail:DescribeTrails): {e}")
            })?;
            let wanted: Vec<TrailInfo> = trails
                .into_iter()
                .filter(|t| match choice {
                    TrailChoice::Named(name) => &t.name == name || t.arn.as_ref() == Some(name),
                    _ => {
                        t.multi_region
                            || t.home_region.as_ref().is_some_and(|h| regions.contains(h))
                    }
                })
                .collect();
            if wanted.is_empty() {
                return Err(match choice {
                    TrailChoice::Named(name) => format!("no trail named {name}"),
                    _ => "no trail logs these regions".into(),
                });
            }
            (cloudtrail, wanted)
        }
    };
    let (cloudtrail, trails) = candidates;
    let mut passed = Vec::new();
    for trail in trails {
        match cloudtrail.trail_excludes_kms(&trail.name).await {
            Ok(true) => {
                passed.push(format!("trail {} leaves KMS events out", trail.name));
                continue;
            }
            Ok(false) => {}
            Err(e) => {
                passed.push(format!(
                    "trail {}: cannot read its selectors (cloudtrail:GetEventSelectors): {e}",
                    trail.name
                ));
                continue;
            }
        }
        let Some(bucket) = trail.s3_bucket.as_deref() else {
            passed.push(format!("trail {} names no bucket", trail.name));
            continue;
        };
        let prefix = trail.s3_prefix.as_deref().unwrap_or_default();
        let url = match S3Url::parse(&format!("s3://{bucket}/{prefix}")) {
            Ok(url) => url,
            Err(e) => {
                passed.push(format!("trail {}: {e}", trail.name));
                continue;
            }
        };
        match S3Reader::open(config, &url.bucket).await {
            Ok(reader) => return Ok((url, reader)),
            Err(e) => passed.push(format!(
                "trail {}: {url}: {e} (grant s3:ListBucket and s3:GetObject on it)",
                trail.name
            )),
        }
    }
    Err(passed.join("; "))
}
