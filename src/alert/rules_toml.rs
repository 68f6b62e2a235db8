//! The rules file's text: parsing it with errors that name file, line and
//! column, and turning the semantic problems of [`super::validate`] into
//! the same form. Reading the file and finding it is `crate::rules_file`'s.

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

#[cfg(test)]
#[path = "rules_toml_tests.rs"]
mod tests;
