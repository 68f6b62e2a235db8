//! The built-in rules, embedded from `builtin.toml` and
//! `builtin_unshipped.toml` (the detections no public rule set ships),
//! read as one file in the same format as a user's `rules.toml`, so
//! `kmstop rules` can show them as written.

use super::spec::{RuleSpec, RulesFile};

/// The built-in rules' TOML text.
pub const SOURCE: &str = concat!(
    include_str!("builtin.toml"),
    "\n",
    include_str!("builtin_unshipped.toml")
);

/// The built-in rules, disabled ones included (the engine skips those).
///
/// # Panics
/// Never at run time: the embedded file is checked by a unit test.
pub fn rules() -> Vec<RuleSpec> {
    match toml::from_str::<RulesFile>(SOURCE) {
        Ok(file) => file.rules,
        // Unreachable past the unit test below; fail loudly rather than
        // run without the built-ins.
        Err(e) => panic!("built-in rules do not parse: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::alert::Kind;
    use crate::alert::engine::Engine;
    use crate::alert::matcher::Matcher;
    use crate::inventory::Inventory;

    #[test]
    fn builtins_parse_with_unique_ids_and_compile() {
        let file: RulesFile = toml::from_str(SOURCE).expect("builtin.toml parses");
        assert!(file.overrides.is_empty());
        // The same checks a user's rules.toml goes through.
        let problems = crate::alert::validate::check_file(&file, &[]);
        assert!(problems.is_empty(), "{problems:?}");
        let rules = rules();
        assert!(rules.len() >= 20, "{}", rules.len());
        let mut ids = HashSet::new();
        for r in &rules {
            assert!(ids.insert(r.id.as_str()), "duplicate id {}", r.id);
            assert!(
                r.id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{} is not kebab-case",
                r.id
            );
            assert!(!r.references.is_empty(), "{} names no source", r.id);
            assert!(!r.description.is_empty(), "{} has no description", r.id);
            Matcher::compile(&r.matcher).unwrap_or_else(|e| panic!("{}: {e}", r.id));
            if let Some(x) = &r.exclude {
                Matcher::compile(x).unwrap_or_else(|e| panic!("{} exclude: {e}", r.id));
            }
        }
        // Enabled or not, every rule must build an engine.
        let all: Vec<RuleSpec> = rules
            .iter()
            .cloned()
            .map(|mut r| {
                r.enabled = true;
                r
            })
            .collect();
        let engine = Engine::new(all, Inventory::default()).expect("engine");
        assert_eq!(engine.rules().count(), rules.len());
    }

    #[test]
    fn the_issue_and_the_detection_families_are_covered() {
        let rules = rules();
        let ids: HashSet<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        for id in [
            "kms-key-disable-or-delete",
            "kms-key-disable-or-delete-cis",
            "kms-imported-key-material",
            "kms-imported-key-material-deleted",
            "kms-key-policy-change",
            "kms-key-policy-public",
            "kms-key-policy-public-encrypt",
            "kms-via-vpce-sensitive",
            "unauthorized-kms-call",
            "unauthorized-kms-call-panther",
            "kms-enumeration-burst",
            "unauthorized-decrypt-spike",
            "unauthorized-spike-by-key",
            "unauthorized-spike-by-source-ip",
            "decrypt-volume-spike",
            "first-seen-principal-on-key",
            "pending-deletion-key-in-use",
            "key-rotation-disabled",
            "cross-account-key-use",
            "kms-grant-outside-account",
            "kms-reencrypt-to-foreign-key",
            "kms-foreign-key-use",
            "kms-policy-lockout-check-bypassed",
            "kms-key-material-expires",
            "kms-decrypt-without-context",
            "first-seen-network-for-principal",
        ] {
            assert!(ids.contains(id), "missing {id}");
        }
        let kinds: HashSet<Kind> = rules.iter().map(|r| r.kind).collect();
        assert_eq!(kinds.len(), 5, "every kind is exercised");
        let refs: String = rules
            .iter()
            .flat_map(|r| r.references.iter())
            .map(String::as_str)
            .collect();
        for r in [
            "R1)", "R2)", "R3)", "R4)", "R5)", "R6)", "R7)", "R8)", "R9)", "R10)", "R11)", "R12)",
            "R13)", "R14)", "R19)",
        ] {
            assert!(refs.contains(r), "no built-in names {r}");
        }
    }
}
