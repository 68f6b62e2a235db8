//! The user's rules file at the edge: where it lives, reading it (bounded,
//! no FIFOs), and the rules in effect with where each comes from. The
//! parsing and checking are the core's (`alert::rules_toml`).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::alert::RuleSpec;
use crate::alert::rules_toml::{ConfigError, LoadedRules, apply, parse_rules, validate};
use crate::alert::sigma::{Refusal, parse_sigma};
use crate::config::rules_path;

/// Whether `path` names a Sigma rule file (`.yml` or `.yaml`) rather than a
/// TOML rules file.
pub fn is_sigma_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
}

/// The Sigma rules of a file: those kmstop runs, and those it refused
/// (each with file, line, title and reason). `Err` when the file cannot be
/// read or is not YAML. Rules whose id is a built-in's are refused too.
pub fn load_sigma_file(
    path: &Path,
    builtins: &[RuleSpec],
) -> Result<(Vec<RuleSpec>, Vec<ConfigError>), Vec<ConfigError>> {
    let error = |position, message: String| ConfigError {
        path: path.to_owned(),
        position,
        rule: None,
        field: None,
        message,
    };
    let text = crate::config::read_settings(path)
        .map_err(|e| vec![error(None, format!("cannot read the rules file: {e}"))])?;
    let file = parse_sigma(&text).map_err(|m| vec![error(yaml_position(&m), m)])?;
    let mut refused: Vec<ConfigError> = file
        .refused
        .iter()
        .map(|r| refusal_error(path, &text, r))
        .collect();
    let mut rules = Vec::new();
    for rule in file.rules {
        if builtins.iter().any(|b| b.id == rule.id) {
            refused.push(refusal_error(
                path,
                &text,
                &Refusal {
                    title: Some(rule.title.clone()),
                    field: Some("id".to_owned()),
                    reason: format!("{} is a built-in rule's id", rule.id),
                },
            ));
        } else {
            rules.push(rule);
        }
    }
    refused.sort_by_key(|e| e.position);
    Ok((rules, refused))
}

/// `… at line 3 column 7` in a YAML error message.
fn yaml_position(message: &str) -> Option<(usize, usize)> {
    let rest = &message[message.find("line ")? + 5..];
    let line: usize = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let column = rest
        .find("column ")
        .and_then(|i| rest[i + 7..].split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    Some((line, column))
}

/// A refusal as a config error, placed at the rule's `title:` line (or
/// the line of the field it is about, after the title).
fn refusal_error(path: &Path, text: &str, r: &Refusal) -> ConfigError {
    let lines: Vec<&str> = text.lines().collect();
    let title_line = r.title.as_ref().and_then(|t| {
        lines
            .iter()
            .position(|l| l.trim_start().starts_with("title:") && l.contains(t.as_str()))
    });
    let field_line = r.field.as_ref().and_then(|f| {
        let from = title_line.unwrap_or(0);
        lines[from..]
            .iter()
            .position(|l| l.trim_start().starts_with(f.as_str()))
            .map(|i| i + from)
    });
    ConfigError {
        path: path.to_owned(),
        position: field_line.or(title_line).map(|l| (l + 1, 1)),
        rule: r.title.clone(),
        field: r.field.clone(),
        message: r.reason.clone(),
    }
}

/// Reads and parses a rules file (syntax and types; see [`validate()`] for
/// the rest).
pub fn load_rules_file(path: &Path) -> Result<LoadedRules, Vec<ConfigError>> {
    let text = crate::config::read_settings(path).map_err(|e| {
        vec![ConfigError {
            path: path.to_owned(),
            position: None,
            rule: None,
            field: None,
            message: format!("cannot read the rules file: {e}"),
        }]
    })?;
    parse_rules(&text, path)
}

/// Where a rule comes from, for `kmstop rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    BuiltIn,
    /// A built-in changed by an `[[override]]` in this file.
    Overridden(PathBuf),
    File(PathBuf),
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BuiltIn => f.write_str("built-in"),
            Self::Overridden(p) => write!(f, "built-in, overridden in {}", p.display()),
            Self::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The rules in effect and where each comes from (same order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    pub rules: Vec<RuleSpec>,
    pub sources: Vec<RuleSource>,
    /// The user file read, if any.
    pub path: Option<PathBuf>,
    /// Sigma rules of the file that were not loaded, and why (the others
    /// were): callers say so on stderr.
    pub refused: Vec<ConfigError>,
}

/// The built-ins plus the user's rules: from `explicit` (`--rules FILE`,
/// which must exist) or else the default file, which may be absent. A
/// file with any error yields every error and no rules: kmstop does not
/// start on a bad file. A `.yml`/`.yaml` file holds Sigma rules: the
/// ones kmstop cannot run are listed in [`RuleSet::refused`] and the
/// others load.
pub fn load(explicit: Option<&Path>, builtins: &[RuleSpec]) -> Result<RuleSet, Vec<ConfigError>> {
    let path = match explicit {
        Some(p) => Some(p.to_owned()),
        None => default_rules_path().filter(|p| p.exists()),
    };
    let Some(path) = path else {
        return Ok(RuleSet {
            rules: builtins.to_vec(),
            sources: vec![RuleSource::BuiltIn; builtins.len()],
            path: None,
            refused: Vec::new(),
        });
    };
    if is_sigma_path(&path) {
        let (rules, refused) = load_sigma_file(&path, builtins)?;
        return Ok(RuleSet {
            sources: (builtins.iter().map(|_| RuleSource::BuiltIn))
                .chain(rules.iter().map(|_| RuleSource::File(path.clone())))
                .collect(),
            rules: builtins.iter().cloned().chain(rules).collect(),
            path: Some(path),
            refused,
        });
    }
    let loaded = load_rules_file(&path)?;
    let errors = validate(&loaded, builtins);
    if !errors.is_empty() {
        return Err(errors);
    }
    let sources = builtins
        .iter()
        .map(|b| {
            if loaded.file.overrides.iter().any(|o| o.id == b.id) {
                RuleSource::Overridden(path.clone())
            } else {
                RuleSource::BuiltIn
            }
        })
        .chain(
            loaded
                .file
                .rules
                .iter()
                .map(|_| RuleSource::File(path.clone())),
        )
        .collect();
    Ok(RuleSet {
        rules: apply(builtins, &loaded.file),
        sources,
        path: Some(path),
        refused: Vec::new(),
    })
}

/// [`rules_path`] for this process.
pub fn default_rules_path() -> Option<PathBuf> {
    let dirs = directories::BaseDirs::new();
    rules_path(
        |name| std::env::var_os(name),
        dirs.as_ref().map(directories::BaseDirs::home_dir),
    )
}
