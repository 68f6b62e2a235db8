//! Non-KMS records (s3, sts, ec2) that share the log files; a reader must
//! drop them on `eventSource`, even when they mention KMS in other fields.

use chrono::{DateTime, Utc};
use rand::RngExt;
use serde_json::{Value, json};

use super::identities::UserIdentity;
use super::records::Record;
use super::text::{SynthRng, alnum, event_time, fmt_uuid, hex, random_uuid, upper};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    S3GetBucketAcl,
    StsAssumeRole,
    /// sts call made *by* KMS: `kms.amazonaws.com` appears as invokedBy,
    /// IP and agent, but eventSource is sts. Traps substring prefilters.
    StsAssumeRoleByKms,
    Ec2RunInstances,
    Ec2CreateVolume,
}

impl NoiseKind {
    pub fn pick(rng: &mut SynthRng) -> Self {
        match rng.random_range(0..100u8) {
            0..40 => NoiseKind::S3GetBucketAcl,
            40..75 => NoiseKind::StsAssumeRole,
            75..78 => NoiseKind::StsAssumeRoleByKms,
            78..88 => NoiseKind::Ec2RunInstances,
            _ => NoiseKind::Ec2CreateVolume,
        }
    }
}

fn service_identity(name: &str) -> UserIdentity {
    UserIdentity {
        kind: Some("AWSService"),
        invoked_by: Some(name.to_string()),
        ..UserIdentity::default()
    }
}

fn role_identity(acct: &str, role: &str, session: &str, rng: &mut SynthRng) -> UserIdentity {
    let pid = format!("AROA{}", upper(rng, 17));
    UserIdentity {
        kind: Some("AssumedRole"),
        principal_id: Some(format!("{pid}:{session}")),
        arn: Some(format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}")),
        account_id: Some(acct.to_string()),
        access_key_id: Some(format!("ASIA{}", upper(rng, 16))),
        session_context: Some(json!({"sessionIssuer": {"type": "Role", "principalId": pid,
            "arn": format!("arn:aws:iam::{acct}:role/{role}"), "accountId": acct, "userName": role},
            "attributes": {"creationDate": "2025-05-20T00:00:00Z", "mfaAuthenticated": "false"}})),
        ..UserIdentity::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn base(
    kind: NoiseKind,
    source: &'static str,
    name: &str,
    identity: UserIdentity,
    time: DateTime<Utc>,
    id: u128,
    region: &str,
    acct: &str,
    ip: &str,
    rng: &mut SynthRng,
) -> Record {
    let read_only = matches!(kind, NoiseKind::S3GetBucketAcl);
    Record {
        event_version: if source == "s3.amazonaws.com" {
            "1.09"
        } else {
            "1.08"
        },
        user_identity: identity,
        event_time: event_time(time),
        event_source: source,
        event_name: name.to_string(),
        aws_region: region.to_string(),
        source_ip_address: ip.to_string(),
        user_agent: Some(ip.to_string()),
        error_code: None,
        error_message: None,
        request_parameters: Value::Null,
        response_elements: Value::Null,
        additional_event_data: None,
        request_id: Some(upper(rng, 16)),
        event_id: fmt_uuid(id),
        read_only: Some(read_only),
        resources: None,
        event_type: "AwsApiCall",
        management_event: Some(true),
        recipient_account_id: acct.to_string(),
        shared_event_id: None,
        vpc_endpoint_id: None,
        service_event_details: None,
        event_category: Some("Management"),
        tls_details: None,
    }
}

pub fn noise_record(
    kind: NoiseKind,
    time: DateTime<Utc>,
    id: u128,
    region: &str,
    acct: &str,
    rng: &mut SynthRng,
) -> Record {
    match kind {
        NoiseKind::S3GetBucketAcl => s3_get_bucket_acl(time, id, region, acct, rng),
        NoiseKind::StsAssumeRole | NoiseKind::StsAssumeRoleByKms => {
            sts_assume_role(kind, time, id, region, acct, rng)
        }
        NoiseKind::Ec2RunInstances | NoiseKind::Ec2CreateVolume => {
            ec2_call(kind, time, id, region, acct, rng)
        }
    }
}

/// CloudTrail checking its own bucket before each delivery.
fn s3_get_bucket_acl(
    time: DateTime<Utc>,
    id: u128,
    region: &str,
    acct: &str,
    rng: &mut SynthRng,
) -> Record {
    let bucket = format!("aws-cloudtrail-logs-{acct}-5c1e9a3b");
    let mut r = base(
        NoiseKind::S3GetBucketAcl,
        "s3.amazonaws.com",
        "GetBucketAcl",
        service_identity("cloudtrail.amazonaws.com"),
        time,
        id,
        region,
        acct,
        "cloudtrail.amazonaws.com",
        rng,
    );
    r.request_parameters = json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "acl": ""});
    r.additional_event_data = Some(
        json!({"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": format!("{}=", alnum(rng, 76)), "bytesTransferredOut": 549}),
    );
    r.resources = Some(
        json!([{"accountId": acct, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
    );
    r.shared_event_id = Some(random_uuid(rng));
    r
}

/// A role assumption; the `ByKms` kind is made by KMS itself.
fn sts_assume_role(
    kind: NoiseKind,
    time: DateTime<Utc>,
    id: u128,
    region: &str,
    acct: &str,
    rng: &mut SynthRng,
) -> Record {
    let expiry = event_time(time + chrono::Duration::hours(1));
    let by_kms = kind == NoiseKind::StsAssumeRoleByKms;
    let (who, role) = if by_kms {
        (
            "kms.amazonaws.com",
            "aws-service-role/cks.kms.amazonaws.com/AWSServiceRoleForKeyManagementServiceCustomKeyStores",
        )
    } else {
        ("lambda.amazonaws.com", "s3-reader-lambda")
    };
    let mut r = base(
        kind,
        "sts.amazonaws.com",
        "AssumeRole",
        service_identity(who),
        time,
        id,
        region,
        acct,
        who,
        rng,
    );
    let role_arn = format!("arn:aws:iam::{acct}:role/{role}");
    let session = if by_kms {
        "kms-cks".to_string()
    } else {
        "s3-reader-lambda".to_string()
    };
    r.request_parameters =
        json!({"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600});
    r.response_elements = json!({"credentials": {"accessKeyId": format!("ASIA{}", upper(rng, 16)),
        "sessionToken": format!("IQoJb3JpZ2luX2Vj{}", alnum(rng, 380)), "expiration": expiry},
        "assumedRoleUser": {"assumedRoleId": format!("AROA{}:{session}", upper(rng, 17)),
        "arn": format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}")}});
    r.read_only = Some(true);
    r.resources = Some(json!([{"accountId": acct, "type": "AWS::IAM::Role", "ARN": role_arn}]));
    r.shared_event_id = Some(random_uuid(rng));
    r
}

/// EC2 calls that name a KMS key in their parameters.
fn ec2_call(
    kind: NoiseKind,
    time: DateTime<Utc>,
    id: u128,
    region: &str,
    acct: &str,
    rng: &mut SynthRng,
) -> Record {
    let ident = role_identity(acct, "ci-deployer-role", "terraform", rng);
    let ip = format!("203.0.113.{}", rng.random_range(1..255));
    let name = if kind == NoiseKind::Ec2RunInstances {
        "RunInstances"
    } else {
        "CreateVolume"
    };
    let mut r = base(
        kind,
        "ec2.amazonaws.com",
        name,
        ident,
        time,
        id,
        region,
        acct,
        &ip,
        rng,
    );
    r.user_agent = Some("APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.44.0".into());
    // Mentions a KMS key ARN without being a KMS event.
    let kms_key = format!("arn:aws:kms:{region}:{acct}:key/{}", random_uuid(rng));
    if kind == NoiseKind::Ec2CreateVolume {
        r.request_parameters = json!({"size": 100, "zone": format!("{region}a"), "volumeType": "gp3",
            "encrypted": true, "kmsKeyId": kms_key});
        r.response_elements = json!({"requestId": random_uuid(rng), "volumeId": format!("vol-0{}", hex(rng, 16)),
            "size": "100", "zone": format!("{region}a"), "status": "creating", "encrypted": true,
            "masterEncryptionKeyId": kms_key, "volumeType": "gp3", "iops": 3000, "throughput": 125});
    } else {
        let instance = format!("i-0{}", hex(rng, 16));
        r.request_parameters = json!({"instancesSet": {"items": [{"imageId": format!("ami-0{}", hex(rng, 16)), "minCount": 1, "maxCount": 1}]},
            "instanceType": "m7g.large", "blockDeviceMapping": {"items": [{"deviceName": "/dev/xvda",
            "ebs": {"volumeSize": 30, "deleteOnTermination": true, "volumeType": "gp3", "encrypted": true, "kmsKeyId": kms_key}}]},
            "monitoring": {"enabled": false}, "disableApiTermination": false, "disableApiStop": false,
            "clientToken": random_uuid(rng), "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}});
        r.response_elements = json!({"requestId": random_uuid(rng), "reservationId": format!("r-0{}", hex(rng, 16)),
            "ownerId": acct, "instancesSet": {"items": [{"instanceId": instance, "imageId": format!("ami-0{}", hex(rng, 16)),
            "instanceState": {"code": 0, "name": "pending"}, "privateDnsName": format!("ip-10-0-{}-{}.ec2.internal", rng.random_range(0..255), rng.random_range(0..255)),
            "amiLaunchIndex": 0, "productCodes": {}, "instanceType": "m7g.large", "launchTime": time.timestamp_millis(),
            "placement": {"availabilityZone": format!("{region}a"), "tenancy": "default"}, "monitoring": {"state": "disabled"},
            "subnetId": format!("subnet-0{}", hex(rng, 16)), "vpcId": format!("vpc-0{}", hex(rng, 16)),
            "privateIpAddress": "10.0.12.34", "architecture": "arm64", "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda"}]}});
    }
    r.read_only = Some(false);
    r.tls_details = Some(
        json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": format!("ec2.{region}.amazonaws.com")}),
    );
    r
}
