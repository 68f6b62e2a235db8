//! S3 reads of a trail's bucket: `HeadBucket` (its region), `ListObjectsV2`
//! and `GetObject` — the three calls `s3:ListBucket` and `s3:GetObject`
//! allow, and nothing else.

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use super::answer_limit::AnswerLimit;
use super::error::{AwsError, ErrorKind};

/// One page of a listing: objects and, with a delimiter, the "folders".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    pub common_prefixes: Vec<String>,
    /// Pass back as `continuation` for the next page; `None` at the end.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
}

/// What to list: `prefix`, optionally one level only (`delimited`), from
/// after `start_after` (keys sort by their bytes).
#[derive(Debug, Clone, Copy, Default)]
pub struct ListRequest<'a> {
    pub prefix: &'a str,
    pub delimited: bool,
    pub start_after: Option<&'a str>,
    pub continuation: Option<&'a str>,
}

/// One bucket, reached in its own region. The SDK's retries stay on
/// (standard, 3 attempts): an object that fails after them is named and
/// counted by the caller.
#[derive(Debug, Clone)]
pub struct S3Reader {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Reader {
    /// A reader of `bucket`, in the region S3 says the bucket is in
    /// (`HeadBucket` answers with it even when it refuses).
    pub async fn open(config: &SdkConfig, bucket: &str) -> Result<Self, AwsError> {
        let first = Self::in_region(config, bucket, None);
        match first.client.head_bucket().bucket(bucket).send().await {
            Ok(out) => match out.bucket_region() {
                Some(region) if Some(region) != config.region().map(AsRef::as_ref) => {
                    Ok(Self::in_region(config, bucket, Some(region)))
                }
                _ => Ok(first),
            },
            Err(e) => match bucket_region_of(&e) {
                Some(region) if Some(region.as_str()) != config.region().map(AsRef::as_ref) => {
                    let moved = Self::in_region(config, bucket, Some(&region));
                    moved
                        .client
                        .head_bucket()
                        .bucket(bucket)
                        .send()
                        .await
                        .map_err(|e| bucket_error(bucket, &e))?;
                    Ok(moved)
                }
                _ => Err(bucket_error(bucket, &e)),
            },
        }
    }

    fn in_region(config: &SdkConfig, bucket: &str, region: Option<&str>) -> Self {
        let mut conf = aws_sdk_s3::config::Builder::from(config).interceptor(AnswerLimit);
        if let Some(region) = region {
            conf = conf.region(aws_config::Region::new(region.to_string()));
        }
        if config.endpoint_url().is_some() {
            // A local endpoint (the simulator, moto) has no bucket
            // subdomains: the bucket goes in the path.
            conf = conf.force_path_style(true);
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(conf.build()),
            bucket: bucket.to_string(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// One page of `ListObjectsV2` (at most 1,000 keys).
    pub async fn list_page(&self, request: ListRequest<'_>) -> Result<ListPage, AwsError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(request.prefix)
            .set_delimiter(request.delimited.then(|| "/".to_string()))
            .set_start_after(request.start_after.map(str::to_string))
            .set_continuation_token(request.continuation.map(str::to_string))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        let objects = out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(ListedObject {
                    key: o.key()?.to_string(),
                    size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                })
            })
            .collect();
        let common_prefixes = out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix().map(str::to_string))
            .collect();
        let next = out
            .next_continuation_token()
            .filter(|t| !t.is_empty() && out.is_truncated() == Some(true))
            .map(str::to_string);
        Ok(ListPage {
            objects,
            common_prefixes,
            next,
        })
    }

    /// Every page of one listing, merged; `on_request` is told of each
    /// request. A continuation token given before ends it: a listing that
    /// loops would page forever.
    pub async fn list_all(
        &self,
        request: ListRequest<'_>,
        mut on_request: impl FnMut(),
    ) -> Result<ListPage, AwsError> {
        let mut all = ListPage::default();
        let mut continuation: Option<String> = None;
        let mut tokens = std::collections::HashSet::new();
        loop {
            on_request();
            let page = self
                .list_page(ListRequest {
                    continuation: continuation.as_deref(),
                    ..request
                })
                .await?;
            all.objects.extend(page.objects);
            all.common_prefixes.extend(page.common_prefixes);
            match page.next {
                Some(next) if tokens.insert(next.clone()) => continuation = Some(next),
                _ => return Ok(all),
            }
        }
    }

    /// An object's bytes, refused once they pass `cap`: no CloudTrail log
    /// file comes near it, and a hostile bucket must not fill memory.
    pub async fn get(&self, key: &str, cap: u64) -> Result<Vec<u8>, AwsError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        let too_large = || {
            AwsError::new(
                ErrorKind::Other,
                format!(
                    "larger than {} MB: larger than any CloudTrail log file",
                    cap >> 20
                ),
            )
        };
        let announced = out
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        if announced > cap {
            return Err(too_large());
        }
        let mut body = out.body;
        let mut bytes = Vec::with_capacity(announced as usize);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                AwsError::new(
                    ErrorKind::Network,
                    format!("the object's bytes stopped coming: {e}"),
                )
            })?;
            if (bytes.len() + chunk.len()) as u64 > cap {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// The region S3 named in its answer (`x-amz-bucket-region`), if any.
fn bucket_region_of<E>(err: &SdkError<E, HttpResponse>) -> Option<String> {
    let region = err.raw_response()?.headers().get("x-amz-bucket-region")?;
    let region = region.trim();
    // The header comes from the network: only a region-shaped value.
    (!region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    .then(|| region.to_string())
}

/// `HeadBucket` answers errors with a status and no body: say what the
/// status means for a bucket.
fn bucket_error<E>(bucket: &str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match status {
        Some(404) => AwsError::new(
            ErrorKind::NotFound,
            format!("bucket {bucket} does not exist (NoSuchBucket)"),
        ),
        Some(403) => AwsError::new(
            ErrorKind::AccessDenied,
            format!("AccessDenied: this identity may not list bucket {bucket} (s3:ListBucket)"),
        ),
        _ => AwsError::from_sdk(err),
    }
}

#[cfg(test)]
impl S3Reader {
    /// A reader of bucket `trail` whose HTTP answers are `rules`' (the
    /// SDK's mocks), no retries: tests of what the code does with S3's
    /// answers, through the real client.
    pub(crate) fn mocked(rules: &[&aws_smithy_mocks::Rule]) -> Self {
        use aws_config::{BehaviorVersion, Region};
        use aws_smithy_mocks::{MockResponseInterceptor, RuleMode};

        let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in rules {
            mocks = mocks.with_rule(rule);
        }
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "x", "x", None, None, "test",
            ))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(mocks)
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(conf),
            bucket: "trail".to_string(),
        }
    }
}
