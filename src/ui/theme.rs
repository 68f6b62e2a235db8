//! Themes: colours named by meaning (`text`, `crit`, `border_focused`…),
//! read from TOML. Built-ins are embedded from `themes/`; a file can be
//! given by path. A slot a theme leaves out falls back to the default
//! theme's; a theme that cannot be read falls back whole, with a warning.
//! With `NO_COLOR` no colour is used at all: meaning is carried by bold,
//! dim and reverse video instead.

use std::collections::BTreeMap;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};

/// A colour's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Background,
    Text,
    Muted,
    Accent,
    Ok,
    Warn,
    Crit,
    Border,
    BorderFocused,
    Selection,
    Chart1,
    Chart2,
    Chart3,
    Chart4,
}

impl Slot {
    pub const ALL: [Slot; 14] = [
        Slot::Background,
        Slot::Text,
        Slot::Muted,
        Slot::Accent,
        Slot::Ok,
        Slot::Warn,
        Slot::Crit,
        Slot::Border,
        Slot::BorderFocused,
        Slot::Selection,
        Slot::Chart1,
        Slot::Chart2,
        Slot::Chart3,
        Slot::Chart4,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Slot::Background => "background",
            Slot::Text => "text",
            Slot::Muted => "muted",
            Slot::Accent => "accent",
            Slot::Ok => "ok",
            Slot::Warn => "warn",
            Slot::Crit => "crit",
            Slot::Border => "border",
            Slot::BorderFocused => "border_focused",
            Slot::Selection => "selection",
            Slot::Chart1 => "chart_1",
            Slot::Chart2 => "chart_2",
            Slot::Chart3 => "chart_3",
            Slot::Chart4 => "chart_4",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The built-in themes: name and TOML text.
pub const BUILTIN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: String,
    colors: [Color; Slot::ALL.len()],
    /// `NO_COLOR`: styles carry meaning by modifiers only.
    pub no_color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Self::dark()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    colors: BTreeMap<String, String>,
}

impl Theme {
    /// The default theme, from its embedded file (checked by a test).
    fn dark() -> Self {
        let mut t = Self {
            name: "dark".to_owned(),
            colors: [Color::Reset; Slot::ALL.len()],
            no_color: false,
        };
        if let Ok(file) = toml::from_str::<ThemeFile>(BUILTIN[0].1) {
            for slot in Slot::ALL {
                if let Some(c) = file
                    .colors
                    .get(slot.name())
                    .and_then(|v| Color::from_str(v).ok())
                {
                    t.colors[slot.index()] = c;
                }
            }
        }
        t
    }

    /// Parses a theme; missing slots take the default theme's colours.
    /// Unknown slots and bad colours are warnings; a file that is not a
    /// theme at all is an error.
    pub fn parse(name: &str, text: &str) -> Result<(Self, Vec<String>), String> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let mut theme = Self::dark();
        name.clone_into(&mut theme.name);
        let mut warnings = Vec::new();
        for (key, value) in &file.colors {
            let Some(slot) = Slot::ALL.iter().find(|s| s.name() == key) else {
                warnings.push(format!("theme {name}: unknown colour slot {key:?}"));
                continue;
            };
            match Color::from_str(value) {
                Ok(c) => theme.colors[slot.index()] = c,
                Err(_) => warnings.push(format!(
                    "theme {name}: {key} = {value:?} is not a colour (#rrggbb, a name or 0-255)"
                )),
            }
        }
        Ok((theme, warnings))
    }

    pub fn builtin(name: &str) -> Option<Self> {
        let (n, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        Self::parse(n, text).ok().map(|(t, _)| t)
    }

    /// The built-in after `current` (wrapping), for the `T` key.
    pub fn next_builtin(current: &str, no_color: bool) -> Self {
        let i = BUILTIN.iter().position(|(n, _)| *n == current);
        let next = i.map_or(0, |i| (i + 1) % BUILTIN.len());
        let mut t = Self::builtin(BUILTIN[next].0).unwrap_or_default();
        t.no_color = no_color;
        t
    }

    #[must_use]
    pub fn with_no_color(mut self, no_color: bool) -> Self {
        self.no_color = no_color;
        self
    }

    pub fn color(&self, slot: Slot) -> Color {
        self.colors[slot.index()]
    }

    /// The style of text with this meaning.
    pub fn style(&self, slot: Slot) -> Style {
        if self.no_color {
            let m = match slot {
                Slot::Muted => Modifier::DIM,
                Slot::Accent | Slot::Warn | Slot::BorderFocused => Modifier::BOLD,
                Slot::Crit => Modifier::BOLD | Modifier::REVERSED,
                Slot::Selection => Modifier::REVERSED,
                _ => Modifier::empty(),
            };
            return Style::default().add_modifier(m);
        }
        let c = self.color(slot);
        match slot {
            Slot::Background => Style::default().bg(c),
            Slot::Selection => Style::default().bg(c).add_modifier(Modifier::BOLD),
            Slot::Crit => Style::default().fg(c).add_modifier(Modifier::BOLD),
            _ => Style::default().fg(c),
        }
    }

    /// The slots whose colour is `c`: for tests that check a cell's
    /// meaning rather than its hue.
    pub fn slots_of(&self, c: Color) -> Vec<&'static str> {
        Slot::ALL
            .iter()
            .filter(|s| self.color(**s) == c)
            .map(|s| s.name())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_cleanly_with_every_slot() {
        for (name, text) in BUILTIN {
            let (theme, warnings) = Theme::parse(name, text).expect("builtin parses");
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            let file: ThemeFile = toml::from_str(text).expect("toml");
            for slot in Slot::ALL {
                assert!(
                    file.colors.contains_key(slot.name()),
                    "{name} lacks {}",
                    slot.name()
                );
            }
            // Meanings a test maps back from a colour must not share one.
            for (a, b) in [
                (Slot::Crit, Slot::Warn),
                (Slot::Crit, Slot::Text),
                (Slot::Warn, Slot::Ok),
            ] {
                assert_ne!(theme.color(a), theme.color(b), "{name}");
            }
        }
    }

    #[test]
    fn missing_slots_fall_back_and_bad_ones_warn() {
        let (t, warnings) = Theme::parse(
            "mine",
            "[colors]\ncrit = \"#ff0000\"\nwarn = \"nope\"\nsparkle = \"red\"\n",
        )
        .expect("parses");
        assert_eq!(t.color(Slot::Crit), Color::Rgb(255, 0, 0));
        assert_eq!(t.color(Slot::Warn), Theme::dark().color(Slot::Warn));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(Theme::parse("bad", "this is [not toml").is_err());
        assert!(Theme::parse("bad", "[palette]\nx = 1").is_err());
    }

    #[test]
    fn no_color_uses_modifiers_only() {
        let t = Theme::default().with_no_color(true);
        for slot in Slot::ALL {
            let s = t.style(slot);
            assert_eq!((s.fg, s.bg), (None, None), "{}", slot.name());
        }
        assert!(
            t.style(Slot::Crit)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }

    #[test]
    fn cycling_visits_every_builtin() {
        let mut t = Theme::default();
        let mut seen = vec![t.name.clone()];
        for _ in 1..BUILTIN.len() {
            t = Theme::next_builtin(&t.name, false);
            seen.push(t.name.clone());
        }
        assert_eq!(seen, ["dark", "light", "high-contrast", "colorblind"]);
        assert_eq!(Theme::next_builtin("colorblind", false).name, "dark");
    }
}
