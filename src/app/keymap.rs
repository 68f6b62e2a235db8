//! The one keymap table: it maps keys to [`Action`]s, names each action
//! for the config file's `[keys]` table, and is what the `?` overlay
//! lists, so help can never disagree with the bindings.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{Action, Pane};

/// A key with its modifiers, as written in the config (`ctrl-c`, `G`,
/// `shift-tab`, `pgdn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl KeyChord {
    const fn key(code: KeyCode) -> Self {
        Self { code, ctrl: false }
    }

    const fn ch(c: char) -> Self {
        Self::key(KeyCode::Char(c))
    }

    const fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    /// The chord a terminal key event stands for. Shift is part of the
    /// character (`G`, `?`), so only Ctrl is kept apart.
    pub fn from_event(key: &KeyEvent) -> Self {
        let code = match key.code {
            // Some terminals send Shift+Tab as Tab with Shift.
            KeyCode::Tab if key.modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            KeyCode::Char(c) if key.modifiers.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        Self {
            code,
            ctrl: key.modifiers.contains(KeyModifiers::CONTROL),
        }
    }

    /// Parses `q`, `G`, `ctrl-c`, `tab`, `shift-tab`, `enter`, `esc`,
    /// `up`, `pgdn`, `home`, `space`, `f1`…
    pub fn parse(text: &str) -> Option<Self> {
        let lower = text.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("ctrl-").or(lower.strip_prefix("c-")) {
            let mut chars = rest.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) => Some(Self::ctrl(c)),
                _ => None,
            };
        }
        let named = match lower.as_str() {
            "tab" => KeyCode::Tab,
            "shift-tab" | "backtab" => KeyCode::BackTab,
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok()?),
            _ => {
                // A single character keeps its case: `s` and `S` differ.
                let mut chars = text.chars();
                return match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => Some(Self::ch(c)),
                    _ => None,
                };
            }
        };
        Some(Self::key(named))
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::F(n) => write!(f, "F{n}"),
            _ => f.write_str("?"),
        }
    }
}

/// One row of the table: an action, its config name, its keys, its help.
#[derive(Debug, Clone)]
pub struct Binding {
    pub action: Action,
    pub name: &'static str,
    pub keys: Vec<KeyChord>,
    pub help: &'static str,
}

fn b(action: Action, name: &'static str, keys: &[KeyChord], help: &'static str) -> Binding {
    Binding {
        action,
        name,
        keys: keys.to_vec(),
        help,
    }
}

/// The default bindings, in the order help lists them.
// A table: splitting it would only scatter it.
#[allow(clippy::too_many_lines)]
pub fn defaults() -> Vec<Binding> {
    use KeyChord as K;
    use KeyCode as C;
    vec![
        b(
            Action::NextPane,
            "next_pane",
            &[K::key(C::Tab)],
            "next pane / section",
        ),
        b(
            Action::PrevPane,
            "prev_pane",
            &[K::key(C::BackTab)],
            "previous pane",
        ),
        b(
            Action::Focus(Pane::Principals),
            "pane_principals",
            &[K::ch('1')],
            "Principals",
        ),
        b(
            Action::Focus(Pane::Denied),
            "pane_denied",
            &[K::ch('2')],
            "Denied",
        ),
        b(
            Action::Focus(Pane::Keys),
            "pane_keys",
            &[K::ch('3')],
            "Keys",
        ),
        b(
            Action::Focus(Pane::Alerts),
            "pane_alerts",
            &[K::ch('4')],
            "Alerts",
        ),
        b(
            Action::Focus(Pane::Events),
            "pane_events",
            &[K::ch('5')],
            "Events",
        ),
        b(
            Action::Focus(Pane::Resources),
            "pane_resources",
            &[K::ch('6')],
            "Resources: who decrypted what",
        ),
        b(
            Action::Focus(Pane::Usage),
            "pane_usage",
            &[K::ch('7')],
            "Quota & cost: rates against quotas, cost",
        ),
        b(Action::Up, "up", &[K::key(C::Up), K::ch('k')], "move up"),
        b(
            Action::Down,
            "down",
            &[K::key(C::Down), K::ch('j')],
            "move down",
        ),
        b(
            Action::Left,
            "left",
            &[K::key(C::Left), K::ch('h')],
            "previous section / scroll left",
        ),
        b(
            Action::Right,
            "right",
            &[K::key(C::Right), K::ch('l')],
            "next section / scroll right",
        ),
        b(
            Action::PageUp,
            "page_up",
            &[K::key(C::PageUp), K::ctrl('b')],
            "page up",
        ),
        b(
            Action::PageDown,
            "page_down",
            &[K::key(C::PageDown), K::ctrl('f')],
            "page down",
        ),
        b(
            Action::Top,
            "top",
            &[K::ch('g'), K::key(C::Home)],
            "first row",
        ),
        b(
            Action::Bottom,
            "bottom",
            &[K::ch('G'), K::key(C::End)],
            "last row",
        ),
        b(
            Action::Enter,
            "enter",
            &[K::key(C::Enter)],
            "drill down / open the event",
        ),
        b(Action::Back, "back", &[K::key(C::Esc)], "back"),
        b(
            Action::Filter,
            "filter",
            &[K::ch('/')],
            "regex, or akid:/ip:/session:/resource:",
        ),
        b(
            Action::CycleSort,
            "sort",
            &[K::ch('s')],
            "sort by the next column",
        ),
        b(
            Action::ReverseSort,
            "reverse_sort",
            &[K::ch('S')],
            "reverse the sort",
        ),
        b(
            Action::CycleWindow,
            "window",
            &[K::ch('t')],
            "window: 1m 5m 15m 1h 24h all",
        ),
        b(
            Action::TimeBack,
            "time_back",
            &[K::ch('[')],
            "cursor back by the window",
        ),
        b(
            Action::TimeForward,
            "time_forward",
            &[K::ch(']')],
            "cursor forward by the window",
        ),
        b(
            Action::PrevAlert,
            "prev_alert",
            &[K::ch('{')],
            "cursor to the previous alert",
        ),
        b(
            Action::NextAlert,
            "next_alert",
            &[K::ch('}')],
            "cursor to the next alert",
        ),
        b(
            Action::TimeEnd,
            "time_end",
            &[K::ch('0')],
            "cursor to the end (follow)",
        ),
        b(
            Action::Pause,
            "pause",
            &[K::ch('p')],
            "pause / resume the view",
        ),
        b(Action::Ack, "ack", &[K::ch('a')], "acknowledge the alert"),
        b(
            Action::Silence,
            "silence",
            &[K::ch('x')],
            "silence the alert for a while",
        ),
        b(
            Action::Export,
            "export",
            &[K::ch('e')],
            "export this view (CSV / JSONL)",
        ),
        b(Action::CycleTheme, "theme", &[K::ch('T')], "next theme"),
        b(Action::Help, "help", &[K::ch('?')], "this help"),
        b(Action::Quit, "quit", &[K::ch('q'), K::ctrl('c')], "quit"),
    ]
}

/// What the keyboard is talking to right now: a prompt takes text; the
/// help overlay closes on any key but the ones that scroll it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    Normal,
    Prompt,
    Help,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        Self {
            bindings: defaults(),
        }
    }
}

/// A `[keys]` value: one key or a list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum KeySpec {
    One(String),
    Many(Vec<String>),
}

impl Keymap {
    /// The defaults with the config's `[keys]` applied: `name = "key"` or
    /// `name = ["k1", "k2"]` replaces that action's keys. Bad entries are
    /// skipped with a warning each; they never stop the start.
    pub fn with_overrides(overrides: &BTreeMap<String, KeySpec>) -> (Self, Vec<String>) {
        let mut map = Self::default();
        let mut warnings = Vec::new();
        for (name, spec) in overrides {
            let Some(index) = map.bindings.iter().position(|b| b.name == name) else {
                warnings.push(format!("[keys] {name}: no such action"));
                continue;
            };
            let texts = match spec {
                KeySpec::One(t) => vec![t.clone()],
                KeySpec::Many(ts) => ts.clone(),
            };
            let mut keys = Vec::new();
            for t in &texts {
                match KeyChord::parse(t) {
                    Some(k) => keys.push(k),
                    None => warnings.push(format!("[keys] {name}: {t:?} is not a key")),
                }
            }
            if keys.is_empty() {
                continue;
            }
            // A key moved to this action leaves the one it had.
            for (i, other) in map.bindings.iter_mut().enumerate() {
                if i != index {
                    let before = other.keys.len();
                    other.keys.retain(|k| !keys.contains(k));
                    if other.keys.len() < before {
                        warnings.push(format!(
                            "[keys] {name}: taken from {} (which now has {} key(s))",
                            other.name,
                            other.keys.len()
                        ));
                    }
                }
            }
            map.bindings[index].keys = keys;
        }
        (map, warnings)
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The action a key press stands for. In a prompt, printable keys are
    /// text and only Enter, Esc, Backspace and Ctrl-C act.
    pub fn action(&self, key: &KeyEvent, mode: InputMode) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let chord = KeyChord::from_event(key);
        if mode == InputMode::Prompt {
            return match (chord.code, chord.ctrl) {
                (KeyCode::Char('c'), true) => Some(Action::Quit),
                (KeyCode::Enter, _) => Some(Action::Enter),
                (KeyCode::Esc, _) => Some(Action::Back),
                (KeyCode::Backspace, _) => Some(Action::Backspace),
                (KeyCode::Char(c), false) => Some(Action::Input(c)),
                _ => None,
            };
        }
        // Ctrl-C always quits, whatever the config did with it.
        if chord == KeyChord::ctrl('c') {
            return Some(Action::Quit);
        }
        let bound = self
            .bindings
            .iter()
            .find(|b| b.keys.contains(&chord))
            .map(|b| b.action);
        if mode == InputMode::Help {
            // "Any key closes": Space, letters, `q`, keys bound to
            // nothing; only the scrolling keys scroll.
            return match bound {
                Some(
                    a @ (Action::Up
                    | Action::Down
                    | Action::PageUp
                    | Action::PageDown
                    | Action::Top
                    | Action::Bottom),
                ) => Some(a),
                _ => Some(Action::Back),
            };
        }
        bound
    }

    /// `(keys, help)` lines for the `?` overlay.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        self.bindings
            .iter()
            .filter(|b| !b.keys.is_empty())
            .map(|b| {
                let keys: Vec<String> = b.keys.iter().map(ToString::to_string).collect();
                (keys.join(" "), b.help)
            })
            .collect()
    }

    /// The first key of an action, for hints in the footer.
    pub fn key_for(&self, action: Action) -> Option<KeyChord> {
        self.bindings
            .iter()
            .find(|b| b.action == action)
            .and_then(|b| b.keys.first().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_have_unique_keys_and_names() {
        let map = Keymap::default();
        let mut keys = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for b in map.bindings() {
            assert!(names.insert(b.name), "{}", b.name);
            for k in &b.keys {
                assert!(keys.insert(*k), "{k} bound twice");
            }
        }
        assert_eq!(
            map.action(
                &press(KeyCode::Char('q'), KeyModifiers::NONE),
                InputMode::Normal
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action(
                &press(KeyCode::Char('G'), KeyModifiers::SHIFT),
                InputMode::Normal
            ),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action(&press(KeyCode::Tab, KeyModifiers::SHIFT), InputMode::Normal),
            Some(Action::PrevPane)
        );
        assert_eq!(
            map.action(
                &press(KeyCode::Char('q'), KeyModifiers::NONE),
                InputMode::Prompt
            ),
            Some(Action::Input('q'))
        );
    }

    #[test]
    fn overrides_apply_and_bad_entries_warn() {
        let mut o = BTreeMap::new();
        o.insert(
            "quit".to_owned(),
            KeySpec::Many(vec!["Q".into(), "ctrl-x".into()]),
        );
        o.insert("nonsense".to_owned(), KeySpec::One("z".into()));
        o.insert("help".to_owned(), KeySpec::One("ctrl-".into()));
        o.insert("pause".to_owned(), KeySpec::One("j".into()));
        let (map, warnings) = Keymap::with_overrides(&o);
        let n = KeyModifiers::NONE;
        assert_eq!(
            map.action(&press(KeyCode::Char('Q'), n), InputMode::Normal),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action(
                &press(KeyCode::Char('x'), KeyModifiers::CONTROL),
                InputMode::Normal
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action(&press(KeyCode::Char('q'), n), InputMode::Normal),
            None
        );
        // `j` moved from down to pause; help still works with its default.
        assert_eq!(
            map.action(&press(KeyCode::Char('j'), n), InputMode::Normal),
            Some(Action::Pause)
        );
        assert_eq!(
            map.action(&press(KeyCode::Char('?'), n), InputMode::Normal),
            Some(Action::Help)
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("nonsense")));
        assert!(warnings.iter().any(|w| w.contains("\"ctrl-\"")));
        assert!(warnings.iter().any(|w| w.contains("taken from down")));
        assert!(
            map.help()
                .iter()
                .any(|(k, h)| k == "Q Ctrl-x" && *h == "quit")
        );
    }

    #[test]
    fn chords_parse_and_print() {
        for (text, shown) in [
            ("q", "q"),
            ("G", "G"),
            ("ctrl-c", "Ctrl-c"),
            ("shift-tab", "Shift-Tab"),
            ("pgdn", "PgDn"),
            ("f5", "F5"),
            ("space", "Space"),
        ] {
            let k = KeyChord::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(k.to_string(), shown);
        }
        for bad in ["", "ctrl-", "fx", "abc", "\u{1b}"] {
            assert_eq!(KeyChord::parse(bad), None, "{bad:?}");
        }
    }
}
