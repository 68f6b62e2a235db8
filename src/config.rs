//! The dashboard's config file, `config.toml` in kmstop's config directory
//! (the same resolver as the rules file: `$KMSTOP_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/kmstop`, else `~/.config/kmstop`).
//!
//! ```toml
//! theme = "light"               # a built-in name or a path to a theme file
//! profile = "prod"              # default AWS profile for live mode
//! regions = ["us-east-1", "eu-west-1"]
//! rules = "~/kms-rules.toml"    # the rules file, instead of rules.toml here
//!
//! [keys]                        # action = key, or a list of keys
//! quit = ["q", "ctrl-q"]
//! filter = "f"
//! ```
//!
//! A bad entry is a warning, never a reason not to start.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::app::keymap::KeySpec;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub theme: Option<String>,
    pub keys: BTreeMap<String, KeySpec>,
    pub profile: Option<String>,
    pub regions: Vec<String>,
    pub rules: Option<PathBuf>,
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

/// This process's config file path (it may not exist).
pub fn default_path() -> Option<PathBuf> {
    let dirs = directories::BaseDirs::new();
    config_dir(
        |name| std::env::var_os(name),
        dirs.as_ref().map(directories::BaseDirs::home_dir),
    )
    .map(|d| d.join("config.toml"))
}

/// The most a settings file (config, rules, theme) may hold.
const MAX_SETTINGS_FILE: u64 = 4 << 20;

/// Reads a settings file the user named: a regular file of at most 4 MB,
/// UTF-8. A FIFO or device is refused before it is opened (opening a FIFO
/// waits for a writer forever).
///
/// # Errors
/// The file cannot be read, is not a regular file, or is too large.
pub fn read_settings(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device)",
        ));
    }
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_SETTINGS_FILE + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SETTINGS_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "larger than 4 MB",
        ));
    }
    Ok(text)
}

/// Reads the config; a missing file is the defaults, silently.
pub fn load(path: &Path) -> (Config, Vec<String>) {
    match read_settings(path) {
        Ok(text) => parse(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Config::default(), Vec::new()),
        Err(e) => (Config::default(), vec![format!("{}: {e}", path.display())]),
    }
}

/// Parses a config, keeping every good entry and warning about the rest.
pub fn parse(text: &str, name: &str) -> (Config, Vec<String>) {
    let mut warnings = Vec::new();
    let mut config = Config::default();
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let msg: &str = e.message();
            return (
                config,
                vec![format!("{name}: not valid TOML ({msg}); using defaults")],
            );
        }
    };
    let string = |key: &str, v: &toml::Value, warnings: &mut Vec<String>| -> Option<String> {
        let s = v.as_str().map(str::to_owned);
        if s.is_none() {
            warnings.push(format!("{name}: {key} should be a string"));
        }
        s
    };
    for (key, value) in &table {
        match key.as_str() {
            "theme" => config.theme = string(key, value, &mut warnings),
            "profile" => config.profile = string(key, value, &mut warnings),
            "rules" => config.rules = string(key, value, &mut warnings).map(|s| expand_home(&s)),
            "regions" => match value.clone().try_into::<Vec<String>>() {
                Ok(r) => config.regions = r,
                Err(_) => warnings.push(format!("{name}: regions should be a list of strings")),
            },
            "keys" => match value.as_table() {
                Some(keys) => {
                    for (action, spec) in keys {
                        match spec.clone().try_into::<KeySpec>() {
                            Ok(k) => {
                                config.keys.insert(action.clone(), k);
                            }
                            Err(_) => warnings.push(format!(
                                "{name}: [keys] {action} should be a key or a list of keys"
                            )),
                        }
                    }
                }
                None => warnings.push(format!("{name}: keys should be a table")),
            },
            other => warnings.push(format!("{name}: unknown setting {other:?}")),
        }
    }
    (config, warnings)
}

fn expand_home(s: &str) -> PathBuf {
    match s.strip_prefix("~/") {
        Some(rest) => directories::BaseDirs::new()
            .map_or_else(|| PathBuf::from(s), |d| d.home_dir().join(rest)),
        None => PathBuf::from(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_entries_parse_and_bad_ones_warn() {
        let text = r#"
theme = "light"
profile = "prod"
regions = ["us-east-1", "eu-west-1"]
rules = "/etc/kmstop/rules.toml"
colour = "blue"
[keys]
quit = ["q", "ctrl-q"]
filter = "f"
pause = 3
"#;
        let (c, warnings) = parse(text, "config.toml");
        assert_eq!(c.theme.as_deref(), Some("light"));
        assert_eq!(c.profile.as_deref(), Some("prod"));
        assert_eq!(c.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(c.rules, Some(PathBuf::from("/etc/kmstop/rules.toml")));
        assert_eq!(c.keys.len(), 2);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("colour")));
        assert!(warnings.iter().any(|w| w.contains("pause")));
    }

    #[test]
    fn broken_toml_is_the_defaults_with_a_warning() {
        let (c, warnings) = parse("theme = [", "c.toml");
        assert_eq!(c, Config::default());
        assert_eq!(warnings.len(), 1);
        let (c, warnings) = parse("theme = 3\nregions = \"x\"", "c.toml");
        assert_eq!(c.theme, None);
        assert_eq!(warnings.len(), 2);
    }

    /// An environment of `pairs` only.
    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn resolves_like_the_rules_file() {
        let home = Some(Path::new("/home/u"));
        let dir = |pairs| config_dir(env(pairs), home);
        assert_eq!(
            dir(&[("KMSTOP_CONFIG_DIR", "/k")]),
            Some(PathBuf::from("/k"))
        );
        assert_eq!(
            dir(&[("XDG_CONFIG_HOME", "/x")]),
            Some(PathBuf::from("/x/kmstop"))
        );
        assert_eq!(
            dir(&[("XDG_CONFIG_HOME", "rel")]),
            Some(PathBuf::from("/home/u/.config/kmstop"))
        );
        assert_eq!(dir(&[]), Some(PathBuf::from("/home/u/.config/kmstop")));
    }

    #[test]
    fn rules_path_in_order() {
        let home = Path::new("/home/u");
        assert_eq!(
            rules_path(
                env(&[("KMSTOP_CONFIG_DIR", "/etc/k"), ("XDG_CONFIG_HOME", "/x")]),
                Some(home)
            ),
            Some(PathBuf::from("/etc/k/rules.toml"))
        );
        assert_eq!(
            rules_path(
                env(&[("KMSTOP_CONFIG_DIR", ""), ("XDG_CONFIG_HOME", "/x")]),
                Some(home)
            ),
            Some(PathBuf::from("/x/kmstop/rules.toml"))
        );
        assert_eq!(
            rules_path(env(&[("XDG_CONFIG_HOME", "relative")]), Some(home)),
            Some(PathBuf::from("/home/u/.config/kmstop/rules.toml"))
        );
        assert_eq!(
            rules_path(env(&[]), Some(home)),
            Some(PathBuf::from("/home/u/.config/kmstop/rules.toml"))
        );
        assert_eq!(rules_path(env(&[]), None), None);
    }
}
