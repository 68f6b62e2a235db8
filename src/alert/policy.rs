//! Is a key policy open to the world? The check behind Panther's
//! "resource made public", `StreamAlert`'s public-resources rule and Splunk's
//! "keys with encrypt policy" (detection-rules.md R9–R11).
//!
//! A statement is public when it allows Principal `*` (or `{"AWS": "*"}`,
//! or an AWS list holding `*`) and no condition ties the caller to an
//! organisation, an account or a source. Conditions that do not name the
//! caller's account (`kms:ViaService`, encryption context…) leave the
//! statement public: anyone in any account can still use the key.

use serde_json::Value;

/// Condition keys that restrict who can use a public statement, compared
/// without case (IAM condition keys are case-insensitive). The brief's
/// org/account keys, plus the VPC and principal-ARN keys policyuniverse
/// (`StreamAlert`'s checker) also treats as restricting.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:principalorgpaths",
    "aws:sourcearn",
    "aws:sourceowner",
    "kms:calleraccount",
    "aws:principalarn",
    "aws:sourcevpc",
    "aws:sourcevpce",
];

/// One statement that lets everyone in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStatement {
    /// `Action` entries, or the `NotAction` ones when `not_action` is set.
    pub actions: Vec<String>,
    /// The statement allows every action except `actions`.
    pub not_action: bool,
}

impl PublicStatement {
    fn allows(&self, action: &str) -> bool {
        let listed = self.actions.iter().any(|a| action_matches(a, action));
        listed != self.not_action
    }
}

/// What [`is_public`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicPolicy {
    pub public: bool,
    pub statements: Vec<PublicStatement>,
}

impl PublicPolicy {
    /// Some public statement allows `action` (`kms:Encrypt`), directly or
    /// by a wildcard (`kms:*`, `*`, `kms:En*`).
    #[must_use]
    pub fn allows(&self, action: &str) -> bool {
        self.statements.iter().any(|s| s.allows(action))
    }
}

/// Reads a key policy document. Text that is not a JSON policy (absent,
/// empty, the `"..."` that AWS documentation prints) is not public: there
/// is nothing to alert on.
#[must_use]
pub fn is_public(policy_json: &str) -> PublicPolicy {
    let Ok(doc) = serde_json::from_str::<Value>(policy_json) else {
        return PublicPolicy::default();
    };
    let statements: Vec<PublicStatement> = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().filter_map(public_statement).collect(),
        Some(one @ Value::Object(_)) => public_statement(one).into_iter().collect(),
        _ => Vec::new(),
    };
    PublicPolicy {
        public: !statements.is_empty(),
        statements,
    }
}

fn public_statement(statement: &Value) -> Option<PublicStatement> {
    let allow = statement
        .get("Effect")
        .and_then(Value::as_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("allow"));
    if !allow || !principal_is_everyone(statement.get("Principal")?) {
        return None;
    }
    if statement.get("Condition").is_some_and(restricts) {
        return None;
    }
    let (actions, not_action) = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(a), _) => (strings(a), false),
        (None, Some(n)) => (strings(n), true),
        (None, None) => (Vec::new(), false),
    };
    Some(PublicStatement {
        actions,
        not_action,
    })
}

fn principal_is_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(map) => map.get("AWS").is_some_and(|aws| match aws {
            Value::String(s) => s == "*",
            Value::Array(list) => list.iter().any(|v| v.as_str() == Some("*")),
            _ => false,
        }),
        _ => false,
    }
}

/// `Condition` is `{operator: {key: value}}`; any restricting key under
/// any operator counts, whatever the value.
fn restricts(condition: &Value) -> bool {
    let Value::Object(operators) = condition else {
        return false;
    };
    operators.values().any(|keys| match keys {
        Value::Object(keys) => keys
            .keys()
            .any(|k| RESTRICTING_KEYS.iter().any(|r| k.eq_ignore_ascii_case(r))),
        _ => false,
    })
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// IAM action matching: case-insensitive, `*` and `?` wildcards.
fn action_matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.as_bytes(), action.as_bytes());
    let (mut pi, mut ai) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ai < a.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&a[ai])) {
            pi += 1;
            ai += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ai));
            pi += 1;
        } else if let Some((sp, sa)) = star {
            pi = sp + 1;
            ai = sa + 1;
            star = Some((sp, sa + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(statements: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#)
    }

    #[test]
    fn principal_star_without_condition_is_public() {
        // Panther's / `StreamAlert`'s example: the whole world may use the key.
        let p = is_public(&policy(
            r#"[{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]"#,
        ));
        assert!(p.public);
        assert!(p.allows("kms:Encrypt"));
        assert!(p.allows("kms:Decrypt"));
    }

    #[test]
    fn aws_star_and_aws_list_with_star_are_public() {
        for principal in [
            r#"{"AWS":"*"}"#,
            r#"{"AWS":["*"]}"#,
            r#"{"AWS":["arn:aws:iam::1:root","*"]}"#,
        ] {
            let p = is_public(&policy(&format!(
                r#"{{"Effect":"Allow","Principal":{principal},"Action":["kms:Encrypt","kms:GenerateDataKey*"]}}"#
            )));
            assert!(p.public, "{principal}");
            assert!(p.allows("kms:Encrypt"));
            assert!(p.allows("kms:GenerateDataKeyWithoutPlaintext"));
            assert!(!p.allows("kms:Decrypt"));
        }
    }

    #[test]
    fn an_account_principal_is_not_public() {
        // The default key policy (AWS documentation).
        let p = is_public(&policy(
            r#"[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*"}]"#,
        ));
        assert!(!p.public);
        assert!(!p.allows("kms:Encrypt"));
    }

    #[test]
    fn org_or_account_conditions_make_it_private() {
        for condition in [
            r#"{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}"#,
            r#"{"StringEquals":{"aws:principalorgid":"o-123"}}"#,
            r#"{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-1/*"}}"#,
            r#"{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"s3.us-east-1.amazonaws.com"}}"#,
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::bucket"}}"#,
        ] {
            let p = is_public(&policy(&format!(
                r#"{{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{condition}}}"#
            )));
            assert!(!p.public, "{condition}");
        }
        // A condition that does not name the caller leaves it public.
        let p = is_public(&policy(
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}"#,
        ));
        assert!(p.public);
    }

    #[test]
    fn deny_statements_are_not_public() {
        let p = is_public(&policy(
            r#"[{"Effect":"Deny","Principal":"*","Action":"kms:*"},{"Effect":"Allow","Principal":{"Service":"*"},"Action":"kms:*"}]"#,
        ));
        assert!(!p.public);
    }

    #[test]
    fn not_action_allows_everything_else() {
        let p = is_public(&policy(
            r#"{"Effect":"Allow","Principal":"*","NotAction":["kms:ScheduleKeyDeletion"]}"#,
        ));
        assert!(p.public);
        assert!(p.allows("kms:Encrypt"));
        assert!(!p.allows("kms:ScheduleKeyDeletion"));
    }

    #[test]
    fn text_that_is_not_a_policy_is_not_public() {
        for text in [
            "",
            "...",
            "{",
            "[]",
            "null",
            r#"{"Statement":"x"}"#,
            "\"*\"",
        ] {
            assert_eq!(is_public(text), PublicPolicy::default(), "{text:?}");
        }
    }

    #[test]
    fn actions_match_like_iam() {
        assert!(action_matches("*", "kms:Encrypt"));
        assert!(action_matches("kms:*", "kms:Encrypt"));
        assert!(action_matches("KMS:encrypt", "kms:Encrypt"));
        assert!(action_matches("kms:?ncrypt", "kms:Encrypt"));
        assert!(!action_matches("kms:Decrypt", "kms:Encrypt"));
        assert!(!action_matches("s3:*", "kms:Encrypt"));
        assert!(!action_matches("kms:Encrypt", "kms:EncryptX"));
    }
}
