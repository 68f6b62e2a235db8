//! The wire details AWS clients rely on: where the region comes from, how
//! an operation is named, how errors and timestamps look. Pure functions,
//! so each rule is tested on its own.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

/// The region when a request's signature names none (unsigned or garbled).
pub const DEFAULT_REGION: &str = "us-east-1";

/// `X-Amz-Target` prefixes: the Rust SDK sends the short form, botocore
/// (boto3, the AWS CLI) the fully qualified one for CloudTrail.
const CLOUDTRAIL_PREFIXES: &[&str] = &[
    "CloudTrail_20131101.",
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.",
];
const KMS_PREFIX: &str = "TrentService.";
const LOGS_PREFIX: &str = "Logs_20140328.";
/// STS speaks awsQuery; its operations are logged under the name its JSON
/// protocol would use, so one allow-list covers every service.
pub const STS_PREFIX: &str = "AWSSecurityTokenServiceV20110615.";

/// Which service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    CloudTrail,
    Kms,
    Sts,
    /// CloudWatch Logs: the trail's log group.
    Logs,
}

/// An operation as routed: the service and the bare operation name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub service: Service,
    pub operation: String,
}

impl Target {
    /// The canonical target string (`CloudTrail_20131101.LookupEvents`,
    /// `TrentService.ListKeys`, `AWSSecurityTokenServiceV20110615.GetCallerIdentity`).
    pub fn canonical(&self) -> String {
        let prefix = match self.service {
            Service::CloudTrail => CLOUDTRAIL_PREFIXES[0],
            Service::Kms => KMS_PREFIX,
            Service::Sts => STS_PREFIX,
            Service::Logs => LOGS_PREFIX,
        };
        format!("{prefix}{}", self.operation)
    }
}

/// Routes an `X-Amz-Target` header value; `None` for a prefix no
/// simulated service has.
pub fn parse_target(header: &str) -> Option<Target> {
    let (service, operation) = CLOUDTRAIL_PREFIXES
        .iter()
        .find_map(|p| header.strip_prefix(p).map(|op| (Service::CloudTrail, op)))
        .or_else(|| header.strip_prefix(KMS_PREFIX).map(|op| (Service::Kms, op)))
        .or_else(|| header.strip_prefix(STS_PREFIX).map(|op| (Service::Sts, op)))
        .or_else(|| {
            header
                .strip_prefix(LOGS_PREFIX)
                .map(|op| (Service::Logs, op))
        })?;
    Some(Target {
        service,
        operation: operation.to_string(),
    })
}

/// The region and service of a `SigV4` `Authorization` header's credential
/// scope (`Credential=AKID/20261124/<region>/<service>/aws4_request`).
pub fn credential_scope(authorization: Option<&str>) -> Option<(String, String)> {
    let auth = authorization?;
    let start = auth.find("Credential=")? + "Credential=".len();
    let credential = auth[start..].split([',', ' ']).next()?;
    let parts: Vec<&str> = credential.split('/').collect();
    // The access key id itself never contains '/', so the scope is the
    // last four parts.
    let [.., date, region, service, terminator] = parts.as_slice() else {
        return None;
    };
    let plausible = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (*terminator == "aws4_request"
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && plausible(region)
        && plausible(service))
    .then(|| ((*region).to_string(), (*service).to_string()))
}

/// The region a request is signed for, else [`DEFAULT_REGION`].
pub fn region_of(authorization: Option<&str>) -> String {
    credential_scope(authorization).map_or_else(|| DEFAULT_REGION.to_string(), |(r, _)| r)
}

/// An error as an AWS service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with `code`: the usual client error.
    pub fn client(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::client("ValidationException", message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::client("SerializationException", message)
    }

    pub fn unknown_operation() -> Self {
        Self::client("UnknownOperationException", "")
    }

    /// The `awsJson1_1` error body: `__type` names the error.
    pub fn json_body(&self) -> String {
        json!({"__type": self.code, "message": self.message}).to_string()
    }

    /// The awsQuery error document (STS).
    pub fn xml_body(&self, request_id: &str) -> String {
        let kind = if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            xml_escape(self.code),
            xml_escape(&self.message),
            xml_escape(request_id)
        )
    }
}

pub type Answer = Result<Value, AwsError>;

/// Escapes text for an XML element.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Parses an awsJson request body: an object, or empty (no members).
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AwsError::serialization(
            "Start of structure or map found where not expected.",
        )),
        Err(e) => Err(AwsError::serialization(format!("Invalid JSON: {e}"))),
    }
}

/// An awsJson timestamp: epoch seconds, maybe fractional.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range checked above
pub fn epoch_to_time(v: &Value) -> Option<DateTime<Utc>> {
    let secs = v.as_f64().filter(|s| s.is_finite() && s.abs() < 1e12)?;
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9).round().min(999_999_999.0) as u32;
    Utc.timestamp_opt(whole as i64, nanos).single()
}

/// Epoch seconds as awsJson writes them: whole seconds as integers.
#[allow(clippy::cast_precision_loss)]
pub fn time_to_epoch(t: DateTime<Utc>) -> Value {
    if t.timestamp_subsec_millis() == 0 {
        json!(t.timestamp())
    } else {
        json!(t.timestamp_millis() as f64 / 1000.0)
    }
}

/// Decodes `application/x-www-form-urlencoded` (awsQuery requests).
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_credential_scope() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/eu-west-1/cloudtrail/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(region_of(Some(auth)), "eu-west-1");
        assert_eq!(
            credential_scope(Some(auth)),
            Some(("eu-west-1".into(), "cloudtrail".into()))
        );
        for bad in [
            None,
            Some(""),
            Some("AWS4-HMAC-SHA256 Credential=x"),
            Some("AWS4-HMAC-SHA256 Credential=AK/2026/eu-west-1/kms/aws4_request"),
            Some("AWS4-HMAC-SHA256 Credential=AK/20261124/EU WEST/kms/aws4_request"),
            Some("AWS4-HMAC-SHA256 Credential=AK/20261124/eu-west-1/kms/aws5_request"),
            Some("Basic dXNlcjpwYXNz"),
        ] {
            assert_eq!(region_of(bad), DEFAULT_REGION, "{bad:?}");
        }
    }

    #[test]
    fn targets_route_both_cloudtrail_spellings() {
        let short = parse_target("CloudTrail_20131101.LookupEvents").expect("short");
        let long =
            parse_target("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
                .expect("long");
        assert_eq!(short, long);
        assert_eq!(short.canonical(), "CloudTrail_20131101.LookupEvents");
        let kms = parse_target("TrentService.ListKeys").expect("kms");
        assert_eq!(kms.service, Service::Kms);
        assert_eq!(parse_target("DynamoDB_20120810.GetItem"), None);
        let logs = parse_target("Logs_20140328.FilterLogEvents").expect("logs");
        assert_eq!(logs.service, Service::Logs);
        assert_eq!(logs.canonical(), "Logs_20140328.FilterLogEvents");
    }

    #[test]
    fn bodies_and_times() {
        assert!(json_object(b"").expect("empty").is_empty());
        assert_eq!(
            json_object(b"[1]").expect_err("array").code,
            "SerializationException"
        );
        assert_eq!(
            json_object(b"{").expect_err("bad").code,
            "SerializationException"
        );
        let t = epoch_to_time(&json!(1_700_000_000.5)).expect("time");
        assert_eq!(t.timestamp_subsec_millis(), 500);
        assert_eq!(time_to_epoch(t), json!(1_700_000_000.5));
        assert_eq!(epoch_to_time(&json!("x")), None);
        assert_eq!(epoch_to_time(&json!(1e300)), None);
        assert_eq!(
            form_pairs(b"Action=GetCallerIdentity&Version=2011-06-15&X=a%2Fb+c&Y=%zz"),
            vec![
                ("Action".into(), "GetCallerIdentity".into()),
                ("Version".into(), "2011-06-15".into()),
                ("X".into(), "a/b c".into()),
                ("Y".into(), "%zz".into()),
            ]
        );
        assert_eq!(xml_escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
    }
}
