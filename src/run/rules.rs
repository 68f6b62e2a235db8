//! `kmstop rules`: list the rules in effect, or check a rules file.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use comfy_table::{ColumnConstraint, ContentArrangement, Table, presets};
use serde::Serialize;

use super::{EXIT_INPUT_PROBLEM, output_width};
use crate::alert::RuleSpec;
use crate::alert::rules_toml::{self, ConfigError};
use crate::cli::{RulesArgs, RulesFormat};
use crate::rules_file::{self, RuleSet};
use crate::text::{escape_control, for_terminal};

pub(super) fn run(args: &RulesArgs) -> ExitCode {
    let builtins = crate::alert::builtin::rules();
    if let Some(path) = &args.check {
        return check(path, &builtins);
    }
    match rules_file::load(args.rules.as_deref(), &builtins) {
        Ok(set) => {
            super::warn_refused(&set.refused);
            list(&set, args.format)
        }
        Err(errors) => fail(&errors),
    }
}

/// Every error on stderr, escaped: rule ids and patterns are user text.
fn fail(errors: &[ConfigError]) -> ExitCode {
    for e in errors {
        eprintln!("{}", escape_control(&e.to_string()));
    }
    if errors.iter().any(|e| e.position.is_some()) {
        eprintln!("kmstop: {} error(s) in the rules file", errors.len());
    }
    ExitCode::from(EXIT_INPUT_PROBLEM)
}

fn check(path: &Path, builtins: &[RuleSpec]) -> ExitCode {
    if rules_file::is_sigma_path(path) {
        return check_sigma(path, builtins);
    }
    let loaded = match rules_file::load_rules_file(path) {
        Ok(loaded) => loaded,
        Err(errors) => return fail(&errors),
    };
    let errors = rules_toml::validate(&loaded, builtins);
    if !errors.is_empty() {
        return fail(&errors);
    }
    super::say(format_args!(
        "{}: {} rules, {} overrides, OK",
        escape_control(&path.display().to_string()),
        loaded.file.rules.len(),
        loaded.file.overrides.len()
    ));
    ExitCode::SUCCESS
}

/// Each Sigma rule loaded (stdout) or refused with its reason (stderr);
/// exit 1 when any is refused or none loads.
fn check_sigma(path: &Path, builtins: &[RuleSpec]) -> ExitCode {
    let (rules, refused) = match rules_file::load_sigma_file(path, builtins) {
        Ok(found) => found,
        Err(errors) => return fail(&errors),
    };
    let display = path.display().to_string();
    let shown = escape_control(&display);
    for rule in &rules {
        super::say(format_args!(
            "{shown}: loaded {} {:?} ({})",
            escape_control(&rule.id),
            escape_control(&rule.title),
            rule.severity
        ));
    }
    for e in &refused {
        eprintln!("refused: {}", escape_control(&e.to_string()));
    }
    super::say(format_args!(
        "{shown}: {} Sigma rules loaded, {} refused{}",
        rules.len(),
        refused.len(),
        if refused.is_empty() && !rules.is_empty() {
            ", OK"
        } else {
            ""
        }
    ));
    if refused.is_empty() && !rules.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INPUT_PROBLEM)
    }
}

/// One rule in `--format json`: the whole rule and where it comes from.
#[derive(Serialize)]
struct JsonRule<'a> {
    source: String,
    #[serde(flatten)]
    rule: &'a RuleSpec,
}

fn list(set: &RuleSet, format: RulesFormat) -> ExitCode {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = match format {
        RulesFormat::Json => {
            let rows: Vec<JsonRule<'_>> = set
                .rules
                .iter()
                .zip(&set.sources)
                .map(|(rule, source)| JsonRule {
                    source: source.to_string(),
                    rule,
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &rows)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
        }
        RulesFormat::Table => write_table(set, &mut out),
    }
    .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("kmstop: cannot write the rules: {e}");
            ExitCode::from(EXIT_INPUT_PROBLEM)
        }
        _ => ExitCode::SUCCESS,
    }
}

fn write_table(set: &RuleSet, out: &mut impl Write) -> io::Result<()> {
    if set.rules.is_empty() {
        return writeln!(out, " (no rules)");
    }
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(output_width())
        .set_header([
            "ID", "KIND", "SEVERITY", "ENABLED", "SOURCE", "TITLE", "FROM",
        ]);
    for (rule, source) in set.rules.iter().zip(&set.sources) {
        let kind = serde_json::to_value(rule.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        t.add_row([
            for_terminal(&rule.id, 60),
            kind,
            rule.severity.to_string(),
            if rule.enabled { "yes" } else { "no" }.to_owned(),
            for_terminal(&source.to_string(), 80),
            for_terminal(&rule.title, 100),
            for_terminal(&reference_sources(&rule.references), 60),
        ]);
    }
    // Ids and kinds are short words people search for: never split them.
    for i in 0..4 {
        if let Some(column) = t.column_mut(i) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    writeln!(out, "{t}")
}

/// The sources a rule's references name (`Elastic, Panther`): the table
/// has no room for full references; `--format json` has them.
fn reference_sources(references: &[String]) -> String {
    let mut sources: Vec<&str> = Vec::new();
    for first in references
        .iter()
        .filter_map(|r| r.split_whitespace().next())
    {
        let first = first.trim_end_matches([',', ':', ';']);
        if !sources.contains(&first) {
            sources.push(first);
        }
    }
    sources.join(", ")
}
