//! Rule files on disk: where the user's lives, reading one with errors
//! that name file, line and column, and turning the semantic problems of
//! [`super::validate`] into the same form.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::spec::{RuleSpec, RulesFile};
use super::validate::{self, Table};

/// One thing wrong with a rules file. `line` and `column` count from 1;
/// `None` when the problem is the file itself (cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub position: Option<(usize, usize)>,
    pub rule: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    /// `path:line:column: rule "id": field: message`, leaving out what is
    /// not known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, ": rule {rule:?}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A parsed rules file and where each of its tables starts. Tables that
/// could not be read are left out of `file`, their errors kept, so that
/// [`validate()`] reports every problem of the file at once.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRules {
    pub path: PathBuf,
    pub file: RulesFile,
    rule_at: Vec<(usize, usize)>,
    override_at: Vec<(usize, usize)>,
    unreadable: Vec<ConfigError>,
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

/// Parses rules from `text`; `path` only names it in errors. A syntax
/// error fails the whole file (every syntax error is returned); a table
/// whose fields have wrong types or names is left out with its errors,
/// which [`validate()`] reports with the rest.
pub fn parse_rules(text: &str, path: &Path) -> Result<LoadedRules, Vec<ConfigError>> {
    let at = |offset: usize| line_column(text, offset);
    let (raw, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let mut errors: Vec<ConfigError> = syntax
            .iter()
            .map(|e| ConfigError {
                path: path.to_owned(),
                position: e.span().map(|s| at(s.start)),
                rule: None,
                field: None,
                message: e.message().to_owned(),
            })
            .collect();
        errors.sort_by_key(|e| e.position);
        return Err(errors);
    }
    let raw = raw.get_ref();
    let mut reader = TableReader {
        text,
        path,
        raw,
        errors: Vec::new(),
    };
    for (key, _) in raw {
        let name: &str = key.get_ref();
        if name != "rule" && name != "override" {
            reader.error(
                Some(key.span().start),
                None,
                None,
                format!("unknown field `{name}`, expected `rule` or `override`"),
            );
        }
    }
    let mut loaded = LoadedRules {
        path: path.to_owned(),
        file: RulesFile::default(),
        rule_at: Vec::new(),
        override_at: Vec::new(),
        unreadable: Vec::new(),
    };
    for item in reader.items("rule") {
        if let Some(rule) = reader.read(item) {
            loaded.file.rules.push(rule);
            loaded.rule_at.push(at(item.span().start));
        }
    }
    for item in reader.items("override") {
        if let Some(o) = reader.read(item) {
            loaded.file.overrides.push(o);
            loaded.override_at.push(at(item.span().start));
        }
    }
    reader.errors.dedup();
    loaded.unreadable = reader.errors;
    Ok(loaded)
}

/// Reads `[[rule]]` and `[[override]]` tables one at a time, collecting
/// every error instead of stopping at the first.
struct TableReader<'a, 'i> {
    text: &'a str,
    path: &'a Path,
    raw: &'a DeTable<'i>,
    errors: Vec<ConfigError>,
}

impl<'a, 'i> TableReader<'a, 'i> {
    fn error(
        &mut self,
        offset: Option<usize>,
        rule: Option<String>,
        field: Option<String>,
        message: String,
    ) {
        self.errors.push(ConfigError {
            path: self.path.to_owned(),
            position: offset.map(|o| line_column(self.text, o)),
            rule,
            field,
            message,
        });
    }

    /// The `[[name]]` entries; anything else under `name` is an error.
    fn items(&mut self, name: &str) -> Vec<&'a Spanned<DeValue<'i>>> {
        let raw = self.raw;
        let Some(value) = raw.get(name) else {
            return Vec::new();
        };
        let Some(list) = value.get_ref().as_array() else {
            self.error(
                Some(value.span().start),
                None,
                Some(name.to_owned()),
                format!("write each {name} as a [[{name}]] table"),
            );
            return Vec::new();
        };
        let mut items = Vec::new();
        for item in list {
            if item.get_ref().is_table() {
                items.push(item);
            } else {
                self.error(
                    Some(item.span().start),
                    None,
                    Some(name.to_owned()),
                    format!("write each {name} as a [[{name}]] table"),
                );
            }
        }
        items
    }

    /// One table as `T`. On an error the key it is in is set aside and the
    /// table read again, so every wrong key of the table is reported (once
    /// per top-level key); `None` if any was wrong.
    fn read<T: DeserializeOwned>(&mut self, item: &Spanned<DeValue<'i>>) -> Option<T> {
        let mut value = item.clone();
        let mut set_aside: Vec<String> = Vec::new();
        loop {
            let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(t) if set_aside.is_empty() => return Some(t),
                Ok(_) => return None,
                Err(e) => e,
            };
            // A required key set aside for a bad value is now "missing":
            // that was already said.
            if set_aside
                .iter()
                .any(|k| error.message() == format!("missing field `{k}`"))
            {
                return None;
            }
            let offset = error.span().map(|s| s.start);
            let (rule, field) = offset.map_or((None, None), |o| locate(self.raw, o));
            let rule = rule.or_else(|| table_id(item.get_ref()));
            self.error(offset, rule, field, error.message().to_owned());
            let DeValue::Table(table) = value.get_mut() else {
                return None;
            };
            let key = offset.and_then(|o| key_at(table, o))?;
            table.remove(key.as_str());
            set_aside.push(key);
        }
    }
}

/// A table's `id`, for errors that point at no key of it.
fn table_id(value: &DeValue<'_>) -> Option<String> {
    value
        .as_table()?
        .get("id")
        .and_then(|v| v.get_ref().as_str())
        .map(str::to_owned)
}

/// The top-level key of `table` that byte `offset` falls in: its name,
/// its value, or (for a `[rule.match]` table, whose span is its header)
/// the last sub-table that starts before it.
fn key_at(table: &DeTable<'_>, offset: usize) -> Option<String> {
    table
        .iter()
        .find(|(k, v)| k.span().contains(&offset) || v.span().contains(&offset))
        .or_else(|| {
            table
                .iter()
                .filter(|(_, v)| v.get_ref().is_table() && v.span().start <= offset)
                .max_by_key(|(_, v)| v.span().start)
        })
        .map(|(k, _)| k.get_ref().to_string())
}

/// The `[[name]]` tables: where each starts, and its contents.
fn tables<'a, 'i>(
    raw: &'a DeTable<'i>,
    name: &str,
) -> impl Iterator<Item = (usize, &'a DeTable<'i>)> + 'a {
    let list = raw
        .get(name)
        .and_then(|v| v.get_ref().as_array())
        .map(|a| a.iter().collect::<Vec<_>>())
        .unwrap_or_default();
    list.into_iter()
        .filter_map(|v| v.get_ref().as_table().map(|t| (v.span().start, t)))
}

/// The rule (by its id) and the dotted key a deserialization error at
/// byte `offset` falls in: the last table header before it, then the key
/// or value that contains it.
fn locate(raw: &DeTable<'_>, offset: usize) -> (Option<String>, Option<String>) {
    let Some((_, table)) = tables(raw, "rule")
        .chain(tables(raw, "override"))
        .filter(|(start, _)| *start <= offset)
        .max_by_key(|(start, _)| *start)
    else {
        return (None, None);
    };
    let id = table
        .get("id")
        .and_then(|v| v.get_ref().as_str())
        .map(str::to_owned);
    let mut path = Vec::new();
    let mut current = table;
    loop {
        if current.keys().any(|k| k.span().contains(&offset)) {
            // An unknown field: toml's message already names it.
            break;
        }
        let inline = current
            .iter()
            .find(|(_, v)| v.span().contains(&offset) || v.span().start == offset);
        // A `[rule.match]` table's span is its header only: the error is
        // in the last such table that starts before it.
        let entry = inline.or_else(|| {
            current
                .iter()
                .filter(|(_, v)| v.get_ref().is_table() && v.span().start <= offset)
                .max_by_key(|(_, v)| v.span().start)
        });
        let Some((key, value)) = entry else { break };
        path.push(key.get_ref().to_string());
        match value.get_ref() {
            DeValue::Table(t) => current = t,
            _ => break,
        }
    }
    let field = (!path.is_empty()).then(|| path.join("."));
    (id, field)
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Every problem of a loaded file, in file order: the tables that could
/// not be read, and every semantic problem of the others (at the line of
/// their table).
pub fn validate(loaded: &LoadedRules, builtins: &[RuleSpec]) -> Vec<ConfigError> {
    let mut errors = loaded.unreadable.clone();
    errors.extend(
        validate::check_file(&loaded.file, builtins)
            .into_iter()
            .map(|p| {
                let position = match p.table {
                    Table::Rule(i) => loaded.rule_at.get(i),
                    Table::Override(i) => loaded.override_at.get(i),
                };
                ConfigError {
                    path: loaded.path.clone(),
                    position: position.copied(),
                    rule: Some(p.rule),
                    field: Some(p.field),
                    message: p.message,
                }
            }),
    );
    // Stable: problems of one table keep their order.
    errors.sort_by_key(|e| e.position);
    errors
}

pub use validate::apply;

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

/// The default rules file: `$KMSTOP_CONFIG_DIR/rules.toml`, else
/// `$XDG_CONFIG_HOME/kmstop/rules.toml`, else `~/.config/kmstop/rules.toml`
/// — on macOS too, where people keep dotfiles rather than
/// `~/Library/Application Support`. Pure: `var` reads the environment.
pub fn rules_path(var: impl Fn(&str) -> Option<OsString>, home: Option<&Path>) -> Option<PathBuf> {
    config_dir(var, home).map(|d| d.join("rules.toml"))
}

/// kmstop's config directory: `$KMSTOP_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/kmstop`, else `~/.config/kmstop` (on macOS too).
/// `var` reads the environment and `home` is the home directory, so the
/// resolution is a pure function tests can drive.
pub fn config_dir(var: impl Fn(&str) -> Option<OsString>, home: Option<&Path>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set("KMSTOP_CONFIG_DIR") {
        return Some(dir);
    }
    // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
    if let Some(dir) = set("XDG_CONFIG_HOME").filter(|d| d.is_absolute()) {
        return Some(dir.join("kmstop"));
    }
    home.map(|h| h.join(".config").join("kmstop"))
}

/// [`rules_path`] for this process.
pub fn default_rules_path() -> Option<PathBuf> {
    let dirs = directories::BaseDirs::new();
    rules_path(
        |name| std::env::var_os(name),
        dirs.as_ref().map(directories::BaseDirs::home_dir),
    )
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
