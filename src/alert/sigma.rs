//! Sigma rules whose logsource is AWS `CloudTrail`, run as kmstop rules.
//!
//! `rsigma-parser` reads the YAML into Sigma's typed rule; this module
//! compiles its detection into kmstop's own evaluator ([`eval::Expr`]) over
//! the normalized event, and the rule into a [`RuleSpec`] of kind `every`
//! (one alert per key, like the built-in per-event rules) whose `match`
//! carries the compiled condition. A rule whose meaning kmstop cannot keep
//! exactly is refused with the reason: another logsource, a field kmstop
//! does not read, a modifier it does not implement, keywords, aggregations,
//! correlations. `eventSource` is decided at load time: kmstop only sees
//! `kms.amazonaws.com`, so a rule that needs another source never matches
//! and is refused.

mod compile;
mod eval;
pub(crate) mod names;

use std::fmt;
use std::sync::Arc;

use rsigma_parser::{Level, SigmaRule};

use super::spec::{Field, Kind, MatchSpec, RuleSpec, Severity};
use crate::event::KmsEvent;

pub use compile::MAX_DEPTH;

/// A compiled Sigma condition, shared by the rule's copies. Two are equal
/// only when they are the same compiled condition.
#[derive(Clone)]
pub struct SigmaCondition(Arc<eval::Expr>);

impl SigmaCondition {
    pub fn matches(&self, event: &KmsEvent<'_>) -> bool {
        self.0.matches(event)
    }
}

impl fmt::Debug for SigmaCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigmaCondition(..)")
    }
}

impl PartialEq for SigmaCondition {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A Sigma document that is not run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The rule's title, when the document got that far.
    pub title: Option<String>,
    /// The field the reason is about, if one.
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(title) = &self.title {
            write!(f, "rule {title:?}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.reason)
    }
}

/// What a Sigma file gave: the rules kmstop runs and those it refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SigmaFile {
    pub rules: Vec<RuleSpec>,
    pub refused: Vec<Refusal>,
}

/// Reads every document of a Sigma YAML file. `Err` is a file that is not
/// YAML at all (the message names line and column); a document that is
/// YAML but not a rule kmstop can run is a [`Refusal`] and the others load.
pub fn parse_sigma(text: &str) -> Result<SigmaFile, String> {
    // The YAML parser slows to a crawl on tens of thousands of `[[[…`.
    if crate::event::nesting::too_deep(text) {
        return Err(format!(
            "the file nests brackets deeper than {} levels",
            crate::event::nesting::MAX_DEPTH
        ));
    }
    let collection = rsigma_parser::parse_sigma_yaml(text).map_err(|e| e.to_string())?;
    let mut out = SigmaFile::default();
    for error in &collection.errors {
        if error.starts_with("YAML parse error") && collection.is_empty() {
            return Err(error.clone());
        }
        out.refused.push(Refusal {
            title: None,
            field: None,
            reason: short(error),
        });
    }
    for c in &collection.correlations {
        out.refused.push(Refusal {
            title: Some(c.title.clone()),
            field: None,
            reason: "Sigma correlation rules are not supported (kmstop runs single-event rules)"
                .to_owned(),
        });
    }
    for f in &collection.filters {
        out.refused.push(Refusal {
            title: Some(f.title.clone()),
            field: None,
            reason: "Sigma filter documents are not supported".to_owned(),
        });
    }
    for rule in &collection.rules {
        match to_rule(rule) {
            Ok(spec) if out.rules.iter().any(|r| r.id == spec.id) => out.refused.push(Refusal {
                title: Some(rule.title.clone()),
                field: Some("id".to_owned()),
                reason: format!("{} is used by an earlier rule of the file", spec.id),
            }),
            Ok(spec) => out.rules.push(spec),
            Err((field, reason)) => out.refused.push(Refusal {
                title: Some(rule.title.clone()),
                field,
                reason: short(&reason),
            }),
        }
    }
    Ok(out)
}

/// A parser message on one line of at most 300 characters (a condition
/// error quotes the whole condition).
fn short(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(300).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Informational) => Severity::Info,
        Some(Level::Low) => Severity::Low,
        // Sigma's level is optional; medium is its usual middle.
        Some(Level::Medium) | None => Severity::Medium,
        Some(Level::High) => Severity::High,
        Some(Level::Critical) => Severity::Critical,
    }
}

/// A kebab-case id: the Sigma `id` (a UUID) lowercased, else `sigma-` and
/// the title's words.
fn rule_id(rule: &SigmaRule) -> String {
    let source = rule.id.as_deref().unwrap_or(&rule.title);
    let words: Vec<String> = source
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(str::to_ascii_lowercase)
        .collect();
    if rule.id.is_some() && !words.is_empty() {
        words.join("-")
    } else {
        format!("sigma-{}", words.join("-"))
            .trim_end_matches('-')
            .to_owned()
    }
}

type Refused = (Option<String>, String);

fn to_rule(rule: &SigmaRule) -> Result<RuleSpec, Refused> {
    let logsource = &rule.logsource;
    let product = logsource.product.as_deref().unwrap_or("");
    let service = logsource.service.as_deref().unwrap_or("");
    if !product.eq_ignore_ascii_case("aws") || !service.eq_ignore_ascii_case("cloudtrail") {
        let shown = |s: Option<&String>| s.map_or("-".to_owned(), Clone::clone);
        let second = logsource.service.as_ref().or(logsource.category.as_ref());
        return Err((
            Some("logsource".to_owned()),
            format!(
                "logsource is {}/{}, not AWS CloudTrail (product aws, service cloudtrail)",
                shown(logsource.product.as_ref()),
                shown(second)
            ),
        ));
    }
    let compiled = compile::condition(&rule.detection)?;
    let mut references = vec![format!(
        "Sigma {} {}",
        rule.id.as_deref().unwrap_or("(no id)"),
        rule.title
    )];
    references.extend(rule.references.iter().cloned());
    references.extend(rule.tags.iter().map(|t| format!("Sigma tag {t}")));
    Ok(RuleSpec {
        id: rule_id(rule),
        title: rule.title.clone(),
        severity: severity(rule.level),
        description: rule.description.clone().unwrap_or_default(),
        references,
        enabled: true,
        kind: Kind::Every,
        group_by: vec![Field::Key],
        matcher: MatchSpec {
            event_names: compiled.names,
            sigma: Some(SigmaCondition(Arc::new(compiled.expr))),
            ..MatchSpec::default()
        },
        exclude: None,
        count: None,
        distinct: None,
        window: None,
        factor: None,
        minimum: None,
        baseline: None,
        field: None,
        learning: None,
        quiet: None,
    })
}

#[cfg(test)]
mod tests;
