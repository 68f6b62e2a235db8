use std::collections::HashMap;

use super::*;
use crate::alert::spec::{Kind, Severity};

fn builtin(id: &str, kind: Kind) -> RuleSpec {
    let mut rule: RuleSpec = toml::from_str(&format!(
        "id = {id:?}\ntitle = \"t\"\nseverity = \"info\"\nkind = \"every\""
    ))
    .expect("rule");
    rule.kind = kind;
    if kind == Kind::Threshold {
        rule.count = Some(1);
        rule.window = toml::from_str::<HashMap<String, crate::alert::Span>>("w = \"5m\"")
            .expect("span")
            .remove("w");
    }
    rule
}

fn errors(text: &str) -> Vec<String> {
    let builtins = [
        builtin("kms-key-disable-or-delete", Kind::Every),
        builtin("unauthorized-kms-call", Kind::Threshold),
    ];
    match parse_rules(text, Path::new("r.toml")) {
        Err(e) => e.iter().map(ToString::to_string).collect(),
        Ok(loaded) => validate(&loaded, &builtins)
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

#[test]
fn type_errors_name_rule_field_and_position() {
    let e = errors("[[rule]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"loud\"\nkind = \"every\"\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("r.toml:4:12: rule \"a\": severity: unknown variant `loud`"),
        "{e:?}"
    );

    let e = errors(
        "[[rule]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"every\"\n[rule.match]\nprincipal = 3\n",
    );
    assert!(
        e[0].starts_with("r.toml:7:13: rule \"a\": match.principal: invalid type"),
        "{e:?}"
    );

    let e = errors(
        "[[rule]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"every\"\nbogus = 1\n",
    );
    assert!(
        e[0].starts_with("r.toml:6:1: rule \"a\": unknown field `bogus`"),
        "{e:?}"
    );
}

#[test]
fn semantic_errors_point_at_the_table() {
    let e = errors(
        "# c\n[[rule]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"threshold\"\ncount = 2\nfactor = 3.0\n",
    );
    assert_eq!(
        e,
        [
            "r.toml:2:1: rule \"a\": window: a threshold rule needs \"window\"",
            "r.toml:2:1: rule \"a\": factor: does not apply to a threshold rule (it uses count, distinct, window)",
        ]
    );
}

#[test]
fn overrides_are_checked_against_the_builtin_kind() {
    let e = errors(
        "[[override]]\nid = \"kms-key-disable-or-delete\"\nwindow = \"5m\"\n\n[[override]]\nid = \"nope\"\n",
    );
    assert_eq!(
        e,
        [
            "r.toml:1:1: rule \"kms-key-disable-or-delete\": window: does not apply to an every rule (it uses none of count, distinct, window, factor, minimum, baseline, field, learning)",
            "r.toml:5:1: rule \"nope\": id: no built-in rule has id \"nope\" (kmstop rules lists them)",
        ]
    );
    assert!(errors("[[override]]\nid = \"unauthorized-kms-call\"\ncount = 20\nwindow = \"1d\"\nseverity = \"high\"\n").is_empty());
}

#[test]
fn apply_merges_overrides_and_appends_rules() {
    let builtins = [
        builtin("kms-key-disable-or-delete", Kind::Every),
        builtin("unauthorized-kms-call", Kind::Threshold),
    ];
    let loaded = parse_rules(
        "[[override]]\nid = \"unauthorized-kms-call\"\ncount = 20\n\n[[override]]\nid = \"kms-key-disable-or-delete\"\nenabled = false\n\n[[rule]]\nid = \"mine\"\ntitle = \"t\"\nseverity = \"high\"\nkind = \"every\"\n",
        Path::new("r.toml"),
    )
    .expect("parses");
    let rules = apply(&builtins, &loaded.file);
    assert_eq!(rules.len(), 3);
    assert!(!rules[0].enabled);
    assert_eq!(rules[1].count, Some(20));
    assert_eq!(rules[1].window, builtins[1].window, "kept");
    assert_eq!(rules[1].severity, Severity::Info, "kept");
    assert_eq!(rules[2].id, "mine");
}

#[test]
fn syntax_errors_have_a_position() {
    let e = errors("[[rule]]\nid = \"a\ntitle = \"t\"\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("r.toml:2:"), "{e:?}");
}

#[test]
fn line_columns_count_characters() {
    assert_eq!(line_column("ab\ncé\nx", 0), (1, 1));
    assert_eq!(line_column("ab\ncé\nx", 3), (2, 1));
    assert_eq!(line_column("ab\ncé\nx", 7), (3, 1));
    assert_eq!(line_column("ab\ncé\nx", 6), (2, 3));
}

#[test]
fn user_rules_cannot_reuse_builtin_ids_and_overrides_are_unique() {
    let e = errors(
        "[[rule]]\nid = \"unauthorized-kms-call\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"every\"\n\n[[override]]\nid = \"unauthorized-kms-call\"\ncount = 2\n[[override]]\nid = \"unauthorized-kms-call\"\ncount = 3\n",
    );
    assert_eq!(
        e,
        [
            "r.toml:1:1: rule \"unauthorized-kms-call\": id: a built-in rule has this id: change it with [[override]]",
            "r.toml:10:1: rule \"unauthorized-kms-call\": id: this built-in is already overridden above",
        ]
    );
}

#[test]
fn values_and_grouping_are_checked() {
    let rule = |extra: &str| {
        errors(&format!(
            "[[rule]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"low\"\n{extra}\n"
        ))
    };
    let only = |extra: &str| {
        let e = rule(extra);
        assert_eq!(e.len(), 1, "{extra}: {e:?}");
        e[0].clone()
    };
    assert!(
        only("kind = \"threshold\"\ncount = 0\nwindow = \"1m\"")
            .contains("count: must be at least 1")
    );
    assert!(
        only("kind = \"threshold\"\ncount = 1\nwindow = \"0s\"")
            .contains("window: must be longer than 0s")
    );
    assert!(
        only("kind = \"threshold\"\ncount = 2\nwindow = \"1m\"\ndistinct = \"key\"\ngroup_by = [\"key\"]")
            .contains("distinct: key is also in group_by")
    );
    assert!(
        only("kind = \"spike\"\nwindow = \"1m\"\nbaseline = \"1h\"\nfactor = 2\nminimum = 0")
            .contains("minimum: must be at least 1")
    );
    assert!(
        only("kind = \"first-seen\"\nfield = \"principal\"\ngroup_by = [\"principal\"]")
            .contains("field: principal is also in group_by")
    );
    assert!(only("kind = \"every\"\nquiet = \"0m\"").contains("quiet: must be longer than 0s"));
    assert!(
        only("kind = \"every\"\n[rule.exclude]")
            .contains("exclude: an empty exclude ignores every event")
    );
    assert!(only("kind = \"every\"\ntitle2 = 1").contains("unknown field `title2`"));
    assert!(
        rule(
            "kind = \"first-seen\"\nfield = \"principal\"\nlearning = \"0s\"\ngroup_by = [\"key\"]"
        )
        .is_empty()
    );
    assert!(
        only("kind = \"missing\"\nfield = \"context_key\"\nminimum = 5\nwindow = \"1h\"").contains(
            "window: does not apply to a missing rule (it uses field, minimum, learning)"
        )
    );
    assert!(
        rule("kind = \"missing\"\nfield = \"context_key\"\nminimum = 5\nlearning = \"1h\"")
            .is_empty()
    );
    assert!(
        only("kind = \"missing\"\nfield = \"source_network\"")
            .contains("minimum: a missing rule needs \"minimum\"")
    );
    assert!(
        rule("kind = \"missing\"\nfield = \"context_key\"\nminimum = 5\ngroup_by = [\"key\"]\n[rule.match]\ncross_account_direction = \"outbound\"\nexpiration_models = [\"KEY_MATERIAL_EXPIRES\"]")
            .is_empty()
    );
    assert!(rule("kind = \"every\"\nquiet = \"2h\"\n[rule.match]\nevent_names = [\"Decrypt\"]\n[rule.exclude]\nregions = [\"us-east-1\"]").is_empty());
}

#[test]
fn an_override_that_breaks_its_rule_is_reported() {
    let e = errors(
        "[[override]]\nid = \"unauthorized-kms-call\"\ncount = 0\nmatch = { principal = \"[\" }\n",
    );
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].contains("count: must be at least 1"), "{e:?}");
    assert!(e[1].contains("match.principal: regex parse error"), "{e:?}");
}

#[test]
fn every_error_of_a_file_is_reported_in_file_order() {
    let e = errors(
        "colour = \"red\"\n\
         [[rule]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"loud\"\nkind = \"every\"\nbogus = 1\n\
         [[rule]]\nid = \"b\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"threshold\"\ncount = 3\n\
         [[rule]]\nid = \"c\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"every\"\n[rule.match]\nprincipal = 3\n\
         [[override]]\nid = \"nope\"\n",
    );
    let starts: Vec<&str> = e
        .iter()
        .map(|m| m.split(" expected").next().unwrap_or(m))
        .collect();
    assert_eq!(
        starts,
        [
            "r.toml:1:1: unknown field `colour`,",
            "r.toml:5:12: rule \"a\": severity: unknown variant `loud`,",
            "r.toml:7:1: rule \"a\": unknown field `bogus`,",
            "r.toml:8:1: rule \"b\": window: a threshold rule needs \"window\"",
            "r.toml:20:13: rule \"c\": match.principal: invalid type: integer `3`,",
            "r.toml:21:1: rule \"nope\": id: no built-in rule has id \"nope\" (kmstop rules lists them)",
        ],
        "{e:#?}"
    );
}

#[test]
fn a_required_key_with_a_bad_value_is_not_also_missing() {
    let e = errors("[[rule]]\nid = \"a\"\ntitle = 7\nseverity = \"low\"\nkind = \"every\"\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("title: invalid type"), "{e:?}");
}

#[test]
fn every_syntax_error_is_reported_in_order() {
    let e = errors("[[rule]]\nid = \"a\ntitle = 3 3\n[[rule]]\nid = = \"b\"\n");
    assert!(e.len() >= 3, "{e:?}");
    assert!(e[0].starts_with("r.toml:2:"), "{e:?}");
    assert!(e.iter().any(|m| m.starts_with("r.toml:5:")), "{e:?}");
}
