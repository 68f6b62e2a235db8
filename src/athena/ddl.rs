//! `kmstop athena ddl`: the CloudTrail table AWS documents for Athena, with
//! partition projection, so no partition is ever loaded by hand: region
//! and day (and, for an organization trail, account) are projected from
//! the trail's S3 layout.

use crate::aws::ALL_REGIONS;

/// Where the trail lands and what to call its table.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub bucket: String,
    /// The trail's S3 key prefix (without `AWSLogs/`), if it has one.
    pub prefix: Option<String>,
    /// `o-…` for an organization trail.
    pub org: Option<String>,
    /// The accounts whose logs the table reads: exactly one for an
    /// account trail; every member account to query for an org trail.
    pub accounts: Vec<String>,
    /// Regions projected (default: every commercial region).
    pub regions: Vec<String>,
    pub database: String,
    pub table: String,
}

/// The columns of the CloudTrail `SerDe`, as AWS's documented DDL has them.
const COLUMNS: &str = "  eventversion STRING,
  useridentity STRUCT<
    type: STRING,
    principalid: STRING,
    arn: STRING,
    accountid: STRING,
    invokedby: STRING,
    accesskeyid: STRING,
    username: STRING,
    onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
    sessioncontext: STRUCT<
      attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
      sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
      ec2roledelivery: STRING,
      webidfederationdata: STRUCT<federatedprovider: STRING, attributes: MAP<STRING, STRING>>,
      sourceidentity: STRING>>,
  eventtime STRING,
  eventsource STRING,
  eventname STRING,
  awsregion STRING,
  sourceipaddress STRING,
  useragent STRING,
  errorcode STRING,
  errormessage STRING,
  requestparameters STRING,
  responseelements STRING,
  additionaleventdata STRING,
  requestid STRING,
  eventid STRING,
  readonly STRING,
  resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
  eventtype STRING,
  apiversion STRING,
  recipientaccountid STRING,
  serviceeventdetails STRING,
  sharedeventid STRING,
  vpcendpointid STRING,
  vpcendpointaccountid STRING,
  eventcategory STRING,
  addendum STRUCT<reason: STRING, updatedfields: STRING, originalrequestid: STRING, originaleventid: STRING>,
  sessioncredentialfromconsole STRING,
  edgedevicedetails STRING,
  tlsdetails STRUCT<tlsversion: STRING, ciphersuite: STRING, clientprovidedhostheader: STRING>";

fn is_account(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Checks what goes into the DDL: every value lands inside a quoted
/// string or identifier, so only the characters AWS allows get there.
///
/// # Errors
/// The flag and what is wrong with its value.
pub fn check(spec: &TableSpec) -> Result<(), String> {
    let bucket_ok = (3..=63).contains(&spec.bucket.len())
        && spec
            .bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !bucket_ok {
        return Err(format!("--bucket {:?}: not an S3 bucket name", spec.bucket));
    }
    if let Some(prefix) = &spec.prefix {
        let ok = prefix.len() <= 512
            && prefix.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'/' | b'-' | b'_' | b'.' | b'!' | b'*' | b'(' | b')')
            });
        if !ok {
            return Err(format!(
                "--prefix {prefix:?}: only letters, digits and / - _ . ! * ( )"
            ));
        }
    }
    if let Some(org) = &spec.org {
        let ok = org.strip_prefix("o-").is_some_and(|id| {
            (10..=32).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !ok {
            return Err(format!(
                "--org {org:?}: not an organization id (o- and 10 to 32 letters or digits)"
            ));
        }
    }
    if let Some(bad) = spec.accounts.iter().find(|a| !is_account(a)) {
        return Err(format!("--account {bad:?}: not a 12-digit account id"));
    }
    match (&spec.org, spec.accounts.len()) {
        (None, 1) | (Some(_), 1..) => {}
        (None, _) => {
            return Err(
                "an account trail's table needs exactly one --account (the trail's account)".into(),
            );
        }
        (Some(_), 0) => {
            return Err("an organization trail's table needs --account with the member accounts to query \
                 (partition projection enumerates them; `aws organizations list-accounts` lists them)"
                .into());
        }
    }
    if let Some(bad) = spec.regions.iter().find(|r| {
        r.is_empty()
            || !r
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }) {
        return Err(format!("--region {bad:?}: not a region name"));
    }
    for (flag, name) in [("--database", &spec.database), ("--table", &spec.table)] {
        let ok = !name.is_empty()
            && name.len() <= 255
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(format!(
                "{flag} {name:?}: lower-case letters, digits and _ only"
            ));
        }
    }
    Ok(())
}

/// `s3://bucket/prefix/AWSLogs/[o-org/]`.
fn logs_root(spec: &TableSpec) -> String {
    let mut root = format!("s3://{}/", spec.bucket);
    if let Some(prefix) = spec
        .prefix
        .as_deref()
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        root.push_str(prefix);
        root.push('/');
    }
    root.push_str("AWSLogs/");
    if let Some(org) = &spec.org {
        root.push_str(org);
        root.push('/');
    }
    root
}

/// The statements, in the order they must run: the database, then the
/// table. Call [`check`] first.
#[must_use]
pub fn statements(spec: &TableSpec) -> Vec<String> {
    let root = logs_root(spec);
    let regions: Vec<&str> = if spec.regions.is_empty() {
        ALL_REGIONS.to_vec()
    } else {
        spec.regions.iter().map(String::as_str).collect()
    };
    let (partitions, account_projection, template, location) = if spec.org.is_some() {
        (
            "`account` STRING, `region` STRING, `timestamp` STRING",
            format!(
                "  'projection.account.type' = 'enum',\n  'projection.account.values' = '{}',\n",
                spec.accounts.join(",")
            ),
            format!("{root}${{account}}/CloudTrail/${{region}}/${{timestamp}}"),
            root.clone(),
        )
    } else {
        let account = &spec.accounts[0];
        (
            "`region` STRING, `timestamp` STRING",
            String::new(),
            format!("{root}{account}/CloudTrail/${{region}}/${{timestamp}}"),
            format!("{root}{account}/CloudTrail/"),
        )
    };
    vec![
        format!("CREATE DATABASE IF NOT EXISTS `{}`", spec.database),
        format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS `{db}`.`{table}` (
{COLUMNS}
)
PARTITIONED BY ({partitions})
ROW FORMAT SERDE 'com.amazon.emr.hive.serde.CloudTrailSerde'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{location}'
TBLPROPERTIES (
  'projection.enabled' = 'true',
{account_projection}  'projection.region.type' = 'enum',
  'projection.region.values' = '{regions}',
  'projection.timestamp.type' = 'date',
  'projection.timestamp.format' = 'yyyy/MM/dd',
  'projection.timestamp.range' = '2013/11/01,NOW',
  'projection.timestamp.interval' = '1',
  'projection.timestamp.interval.unit' = 'DAYS',
  'storage.location.template' = '{template}'
)",
            db = spec.database,
            table = spec.table,
            regions = regions.join(","),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TableSpec {
        TableSpec {
            bucket: "org-trail".into(),
            prefix: Some("trails/".into()),
            org: Some("o-abcdef1234".into()),
            accounts: vec!["111122223333".into(), "444455556666".into()],
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            database: "security".into(),
            table: "cloudtrail_org".into(),
        }
    }

    #[test]
    fn an_org_trail_projects_account_region_and_day() {
        let ddl = statements(&spec()).join(";\n");
        assert!(
            ddl.contains("PARTITIONED BY (`account` STRING, `region` STRING, `timestamp` STRING)")
        );
        assert!(ddl.contains("'projection.account.values' = '111122223333,444455556666'"));
        assert!(ddl.contains(
            "'storage.location.template' = 's3://org-trail/trails/AWSLogs/o-abcdef1234/${account}/CloudTrail/${region}/${timestamp}'"
        ));
    }

    #[test]
    fn an_account_trail_has_its_account_in_the_location() {
        let account = TableSpec {
            org: None,
            prefix: None,
            accounts: vec!["111122223333".into()],
            ..spec()
        };
        check(&account).expect("valid");
        let ddl = statements(&account).join(";\n");
        assert!(ddl.contains("PARTITIONED BY (`region` STRING, `timestamp` STRING)"));
        assert!(ddl.contains("LOCATION 's3://org-trail/AWSLogs/111122223333/CloudTrail/'"));
    }

    #[test]
    fn values_that_could_break_out_of_a_string_are_refused() {
        for (change, flag) in [
            (
                TableSpec {
                    bucket: "a'b".into(),
                    ..spec()
                },
                "--bucket",
            ),
            (
                TableSpec {
                    prefix: Some("x'y".into()),
                    ..spec()
                },
                "--prefix",
            ),
            (
                TableSpec {
                    org: Some("o-x".into()),
                    ..spec()
                },
                "--org",
            ),
            (
                TableSpec {
                    accounts: vec!["1".into()],
                    ..spec()
                },
                "--account",
            ),
            (
                TableSpec {
                    accounts: Vec::new(),
                    ..spec()
                },
                "member accounts",
            ),
            (
                TableSpec {
                    regions: vec!["eu',x".into()],
                    ..spec()
                },
                "--region",
            ),
            (
                TableSpec {
                    table: "t`; DROP".into(),
                    ..spec()
                },
                "--table",
            ),
        ] {
            let err = check(&change).expect_err(flag);
            assert!(err.contains(flag), "{err}");
        }
    }
}
