//! The user's rules file at the edge: where it lives, reading it (bounded,
//! no FIFOs), and the rules in effect with where each comes from. The
//! parsing and checking are the core's (`alert::rules_toml`).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::alert::RuleSpec;
use crate::alert::rules_toml::{ConfigError, LoadedRules, apply, parse_rules, validate};
use crate::config::rules_path;

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
}

/// The built-ins plus the user's rules: from `explicit` (`--rules FILE`,
/// which must exist) or else the default file, which may be absent. A
/// file with any error yields every error and no rules: kmstop does not
/// start on a bad file.
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
        });
    };
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
