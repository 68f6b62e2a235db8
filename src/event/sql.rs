//! The principal, key and outcome rules of [`super::normalize`] rendered as
//! SQL over Athena's CloudTrail table (the CloudTrail `SerDe`'s lower-case
//! columns), so a report pushed down to Athena counts exactly what the
//! local parser counts. The principal rule and the denied-outcome markers
//! are one definition each, read by both renderings; the key rule mirrors
//! `KeyRefs` step by step. `tests/it/athena_report.rs` checks the two
//! renderings agree, through engines we did not write, on generated
//! corpora with hostile strings.

/// One step of the principal rule: the first step that yields a non-empty
/// text names the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalStep {
    /// `sessionContext.sessionIssuer.arn` of an `AssumedRole`: every
    /// session of a role is one principal.
    IssuerOfAssumedRole,
    /// `invokedBy` of an `AWSService` identity.
    ServiceOfAwsService,
    Arn,
    InvokedBy,
    /// `account:<accountId>`: a caller from another account.
    Account,
    PrincipalId,
}

/// The principal rule, in order; `unknown` when no step yields.
pub const PRINCIPAL_RULE: [PrincipalStep; 6] = [
    PrincipalStep::IssuerOfAssumedRole,
    PrincipalStep::ServiceOfAwsService,
    PrincipalStep::Arn,
    PrincipalStep::InvokedBy,
    PrincipalStep::Account,
    PrincipalStep::PrincipalId,
];

pub const UNKNOWN_PRINCIPAL: &str = "unknown";

/// An error code is a denial when it contains this (ASCII case ignored)...
pub const DENIED_CONTAINS: &str = "accessdenied";
/// ...or ends with this (EC2-style `Client.UnauthorizedOperation`).
pub const DENIED_ENDS_WITH: &str = "UnauthorizedOperation";

/// `NULLIF(x, '')`: the local parser treats empty strings as absent.
fn present(column: &str) -> String {
    format!("NULLIF({column}, '')")
}

/// The principal rule as a SQL expression over the table's columns.
#[must_use]
pub fn principal_sql() -> String {
    let id = "useridentity";
    let steps: Vec<String> = PRINCIPAL_RULE
        .iter()
        .map(|step| match step {
            PrincipalStep::IssuerOfAssumedRole => format!(
                "CASE WHEN {id}.type = 'AssumedRole' THEN {} END",
                present(&format!("{id}.sessioncontext.sessionissuer.arn"))
            ),
            PrincipalStep::ServiceOfAwsService => format!(
                "CASE WHEN {id}.type = 'AWSService' THEN {} END",
                present(&format!("{id}.invokedby"))
            ),
            PrincipalStep::Arn => present(&format!("{id}.arn")),
            PrincipalStep::InvokedBy => present(&format!("{id}.invokedby")),
            PrincipalStep::Account => {
                format!("'account:' || {}", present(&format!("{id}.accountid")))
            }
            PrincipalStep::PrincipalId => present(&format!("{id}.principalid")),
        })
        .collect();
    format!("COALESCE({}, '{UNKNOWN_PRINCIPAL}')", steps.join(", "))
}

/// The session name the parser reads: what follows the role name in
/// `arn:aws:sts::A:assumed-role/<role>/<session>` (the first
/// `:assumed-role/`, then the first `/` after it); null when empty.
#[must_use]
pub fn session_name_sql() -> String {
    let arn = "useridentity.arn";
    let marker = ":assumed-role/";
    let path = format!(
        "substr({arn}, strpos({arn}, '{marker}') + {})",
        marker.len()
    );
    format!(
        "CASE WHEN strpos({arn}, '{marker}') > 0 AND strpos({path}, '/') > 0 \
         THEN NULLIF(substr({path}, strpos({path}, '/') + 1), '') END"
    )
}

/// The outcome rule: `success`, `denied` or `error`.
#[must_use]
pub fn outcome_sql() -> String {
    format!(
        "CASE WHEN NULLIF(errorcode, '') IS NULL THEN 'success' \
         WHEN strpos(lower(errorcode), '{DENIED_CONTAINS}') > 0 \
         OR errorcode LIKE '%{DENIED_ENDS_WITH}' THEN 'denied' ELSE 'error' END"
    )
}

/// `is_key_arn`: `arn:…:kms:…:key/…`.
fn is_key_arn(x: &str) -> String {
    format!(
        "(substr({x}, 1, 4) = 'arn:' AND strpos({x}, ':kms:') > 0 AND strpos({x}, ':key/') > 0)"
    )
}

/// A request or response parameter's key: an ARN, or a bare key id made
/// into the ARN of the caller's own account and the call's region; an
/// alias names no key.
fn key_from_parameter(value: &str) -> String {
    let account = "COALESCE(NULLIF(recipientaccountid, ''), NULLIF(useridentity.accountid, ''))";
    let region = "NULLIF(awsregion, '')";
    format!(
        "CASE WHEN {value} IS NULL THEN NULL \
         WHEN substr({value}, 1, 6) = 'alias/' OR strpos({value}, ':alias/') > 0 THEN NULL \
         WHEN {arn} THEN {value} \
         WHEN regexp_like({value}, '^[A-Za-z0-9-]{{8,64}}$') AND strpos({value}, '-') > 0 \
         THEN 'arn:' || CASE WHEN substr({region}, 1, 3) = 'cn-' THEN 'aws-cn' \
         WHEN substr({region}, 1, 7) = 'us-gov-' THEN 'aws-us-gov' ELSE 'aws' END \
         || ':kms:' || {region} || ':' || {account} || ':key/' || {value} END",
        arn = is_key_arn(value),
    )
}

/// Rust's `char::is_whitespace`, spelled out for a regex character class
/// (engines disagree on `\s`).
macro_rules! whitespace {
    () => {
        r"\x{09}-\x{0D}\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
    };
}

/// What `str::trim` removes, as the inside of a regex character class.
pub const WHITESPACE: &str = whitespace!();

/// What ends an ARN inside an error message: whitespace, quotes, commas,
/// parentheses. Written for inside a SQL literal (its quote doubled).
const ARN_END: &str = concat!(whitespace!(), r#""'',()"#);

/// The key rule as a SQL expression: a key-typed resource, then
/// `responseElements.keyId`, `requestParameters.keyId` and `.targetKeyId`,
/// then a key ARN named in the error message.
#[must_use]
pub fn key_arn_sql() -> String {
    let resource = format!(
        "element_at(filter(resources, r -> (NULLIF(r.type, '') IS NULL OR r.type = 'AWS::KMS::Key') \
         AND {}), 1).arn",
        is_key_arn("r.arn")
    );
    let parameter = |doc: &str, path: &str| {
        key_from_parameter(&format!(
            "NULLIF(json_extract_scalar({doc}, '$.{path}'), '')"
        ))
    };
    let message = format!(
        "element_at(filter(transform(regexp_extract_all(NULLIF(errormessage, ''), 'arn:[^{ARN_END}]*'), \
         a -> regexp_replace(a, '[.;]+$', '')), a -> {}), 1)",
        is_key_arn("a")
    );
    format!(
        "COALESCE({resource}, {}, {}, {}, {message})",
        parameter("responseelements", "keyId"),
        parameter("requestparameters", "keyId"),
        parameter("requestparameters", "targetKeyId"),
    )
}

/// A SQL string literal: quotes doubled. Any other character, control
/// characters included, stands for itself inside one.
#[must_use]
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A quoted SQL identifier (`"db"."table"`): quotes doubled.
#[must_use]
pub fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
