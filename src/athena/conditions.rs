//! A rule's conditions as SQL: what the report's query renders exactly,
//! and where it can only cast a wider net for the rule's own matcher.

use crate::alert::{Direction, Field, MatchSpec, RuleSpec};
use crate::event::sql::literal;
use crate::inventory::Inventory;

pub(super) fn in_list(column: &str, values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| literal(v)).collect();
    format!("{column} IN ({})", items.join(", "))
}

/// A glob (`*` any run, all else literal) as a `LIKE` pattern.
fn like(glob: &str) -> String {
    let mut out = String::new();
    for c in glob.chars() {
        match c {
            '*' => out.push('%'),
            '%' | '_' | '!' => {
                out.push('!');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    format!("{} ESCAPE '!'", literal(&out))
}

/// Whether a regex is a plain string (no character means more than
/// itself), so that it matches where that string occurs.
fn plain(pattern: &str) -> bool {
    !pattern.is_empty()
        && pattern
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/_-=@,".contains(c))
}

/// The SQL of a rule's conditions this rendering knows, and whether they
/// are all its conditions (then the SQL is exact, else a wider net the
/// rule's own matcher narrows).
fn conditions(m: &MatchSpec, inventory: &Inventory) -> (Vec<String>, bool) {
    let mut sql = Vec::new();
    let list = |sql: &mut Vec<String>, column: &str, values: &[String]| {
        if !values.is_empty() {
            sql.push(in_list(column, values));
        }
    };
    list(&mut sql, "eventname", &m.event_names);
    let outcomes: Vec<String> = m.outcomes.iter().map(|o| o.as_str().to_owned()).collect();
    list(&mut sql, "outcome", &outcomes);
    list(&mut sql, "NULLIF(awsregion, '')", &m.regions);
    list(&mut sql, "NULLIF(eventtype, '')", &m.event_types);
    list(&mut sql, "NULLIF(eventcategory, '')", &m.event_categories);
    list(
        &mut sql,
        "NULLIF(useridentity.type, '')",
        &m.principal_types,
    );
    if !m.not_principal_types.is_empty() {
        sql.push(format!(
            "NOT COALESCE({}, false)",
            in_list("NULLIF(useridentity.type, '')", &m.not_principal_types)
        ));
    }
    if let Some(read_only) = m.read_only {
        sql.push(format!("lower(readonly) = '{read_only}'"));
    }
    if let Some(cross) = m.cross_account {
        // The caller's account against the key ARN's fifth field; false
        // when either is unknown, as the matcher has it.
        let op = if cross { "<>" } else { "=" };
        sql.push(format!(
            "COALESCE(NULLIF(useridentity.accountid, '') {op} NULLIF(split_part(key_arn, ':', 5), ''), false)"
        ));
    }
    if let Some(direction) = m.cross_account_direction {
        // Cross-account as above, and outbound when the trail's own
        // account (the recipient) is not the key's: the matcher's rule.
        let owner = "NULLIF(split_part(key_arn, ':', 5), '')";
        let cross = format!("COALESCE(NULLIF(useridentity.accountid, '') <> {owner}, false)");
        let outbound = format!("COALESCE(NULLIF(recipientaccountid, '') <> {owner}, false)");
        sql.push(match direction {
            Direction::Outbound => format!("{cross} AND {outbound}"),
            Direction::Inbound => format!("{cross} AND NOT {outbound}"),
        });
    }
    // A regex that is a plain string matches where the string occurs.
    for (pattern, column) in [(&m.key, "key_arn"), (&m.principal, "principal")] {
        if let Some(text) = pattern.as_deref().filter(|p| plain(p)) {
            sql.push(format!(
                "COALESCE(strpos({column}, {}) > 0, false)",
                literal(text)
            ));
        }
    }
    if !m.key_states.is_empty() || m.key_rotation_enabled.is_some() {
        // The inventory is known before the query: its keys with the
        // wanted facts are the condition (none: nothing can match).
        let mut keys: Vec<String> = inventory
            .iter()
            .filter(|f| {
                (m.key_states.is_empty()
                    || f.state
                        .as_deref()
                        .is_some_and(|s| m.key_states.iter().any(|w| w == s)))
                    && m.key_rotation_enabled
                        .is_none_or(|want| f.rotation_enabled == Some(want))
            })
            .map(|f| f.arn.clone())
            .collect();
        keys.sort();
        if keys.is_empty() {
            sql.push("false".to_owned());
        } else {
            sql.push(in_list("key_arn", &keys));
        }
    }
    if !m.error_codes.is_empty() {
        let globs: Vec<String> = m
            .error_codes
            .iter()
            .map(|g| format!("NULLIF(errorcode, '') LIKE {}", like(g)))
            .collect();
        sql.push(format!("({})", globs.join(" OR ")));
    }
    let rendered = MatchSpec {
        event_names: m.event_names.clone(),
        outcomes: m.outcomes.clone(),
        regions: m.regions.clone(),
        event_types: m.event_types.clone(),
        event_categories: m.event_categories.clone(),
        principal_types: m.principal_types.clone(),
        not_principal_types: m.not_principal_types.clone(),
        read_only: m.read_only,
        error_codes: m.error_codes.clone(),
        cross_account: m.cross_account,
        key_states: m.key_states.clone(),
        key_rotation_enabled: m.key_rotation_enabled,
        cross_account_direction: m.cross_account_direction,
        key: m.key.clone().filter(|p| plain(p)),
        principal: m.principal.clone().filter(|p| plain(p)),
        ..MatchSpec::default()
    };
    (sql, rendered == *m)
}

/// A field a rule groups by, as a column of the query.
pub(super) fn field_sql(field: Field) -> Option<&'static str> {
    Some(match field {
        Field::Principal => "principal",
        Field::Key => "key_arn",
        Field::Region => "NULLIF(awsregion, '')",
        Field::EventName => "eventname",
        Field::SourceIp => "NULLIF(sourceipaddress, '')",
        Field::UserAgent => "NULLIF(useragent, '')",
        Field::ErrorCode => "NULLIF(errorcode, '')",
        Field::PrincipalAccount => "NULLIF(useridentity.accountid, '')",
        Field::Alias
        | Field::SessionName
        | Field::KeyAccount
        | Field::SourceNetwork
        | Field::ContextKey => return None,
    })
}

/// Columns whose values tell apart at least every two values of `field`
/// tells apart: a first-seen rule's first sightings per these include its
/// first sightings per the field. A field the SQL cannot compute exactly
/// is refined by the columns it is made of: an address's network by the
/// address (a network's first call is the first call of one of its
/// addresses), the VPC endpoint kept apart.
pub(super) fn refining_sql(field: Field) -> Option<&'static str> {
    match field {
        Field::SourceNetwork => Some("NULLIF(vpcendpointid, ''), NULLIF(sourceipaddress, '')"),
        f => field_sql(f),
    }
}

/// A rule's conditions with its exclusion, in SQL, and whether that is
/// exact (else a wider net the rule's matcher narrows).
pub(super) fn rule_condition(rule: &RuleSpec, inventory: &Inventory) -> (String, bool) {
    let joined = |sql: Vec<String>| {
        if sql.is_empty() {
            "true".to_owned()
        } else {
            sql.join(" AND ")
        }
    };
    let (sql, mut exact) = conditions(&rule.matcher, inventory);
    let mut condition = joined(sql);
    if let Some(exclude) = &rule.exclude {
        // An exclusion rendered exactly narrows exactly; one that is
        // not cannot be subtracted, and the net stays wide.
        let (sql, exclude_exact) = conditions(exclude, inventory);
        if exclude_exact {
            condition = format!("({condition}) AND NOT COALESCE(({}), false)", joined(sql));
        } else {
            exact = false;
        }
    }
    (condition, exact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_like_patterns_with_their_wildcards_escaped() {
        assert_eq!(like("AccessDenied*"), "'AccessDenied%' ESCAPE '!'");
        assert_eq!(like("a_b%c!*"), "'a!_b!%c!!%' ESCAPE '!'");
        assert_eq!(like("it's"), "'it''s' ESCAPE '!'");
    }

    #[test]
    fn a_rule_with_a_regex_is_widened_not_rendered() {
        let exact = MatchSpec {
            event_names: vec!["Decrypt".into()],
            ..MatchSpec::default()
        };
        assert!(conditions(&exact, &Inventory::default()).1);
        let regex = MatchSpec {
            principal: Some("role/.*App".into()),
            ..exact
        };
        let (sql, is_exact) = conditions(&regex, &Inventory::default());
        assert!(!is_exact);
        assert_eq!(sql, ["eventname IN ('Decrypt')"]);
    }
}
