//! The dashboard's state and everything that changes it, with no terminal
//! in sight: [`update`] takes an [`Action`] and a `now`, changes the
//! [`App`] and says what the loop should do about it ([`Effect`]).
//! Tests drive it exactly like keys do.

pub mod action;
pub mod athena;
pub mod data;
pub mod drill;
pub mod episodes;
mod key_verdict;
pub mod keymap;
pub mod log;
mod mouse;
mod overlay;
pub mod query;
mod ranks;
pub mod refetch;
pub mod resources;
mod rows;
mod selection;
mod sort;
pub mod sort_key;
mod tables;
mod threads;
mod update;
pub mod usage;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, Utc};
use regex::Regex;

pub use action::Action;
pub use data::{Data, DataConfig, FILE_MAX_BUCKETS, Loading};
pub use keymap::{InputMode, Keymap};
pub use query::Snapshot;
pub use update::{Effect, update};

/// The panes, in Tab order. Their titles are part of the interface:
/// users and docs name them. The first five share the grid; the others
/// take the whole body when focused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Principals,
    Denied,
    Keys,
    Alerts,
    Events,
    /// Who decrypted what: data calls by the resource their context names.
    Resources,
    /// Quota & cost: request rates against the KMS quotas, and what the
    /// requests cost.
    Usage,
}

impl Pane {
    pub const ALL: [Pane; 7] = [
        Pane::Principals,
        Pane::Denied,
        Pane::Keys,
        Pane::Alerts,
        Pane::Events,
        Pane::Resources,
        Pane::Usage,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Principals => "Principals",
            Pane::Denied => "Denied",
            Pane::Keys => "Keys",
            Pane::Alerts => "Alerts",
            Pane::Events => "Events",
            Pane::Resources => "Resources",
            Pane::Usage => "Quota & cost",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn step(self, forward: bool) -> Self {
        let n = Self::ALL.len();
        let i = if forward {
            (self.index() + 1) % n
        } else {
            (self.index() + n - 1) % n
        };
        Self::ALL[i]
    }
}

/// How much time the panes look back over from the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeWindow {
    M1,
    M5,
    M15,
    H1,
    H24,
    All,
}

impl TimeWindow {
    pub const ALL: [TimeWindow; 6] = [
        TimeWindow::M1,
        TimeWindow::M5,
        TimeWindow::M15,
        TimeWindow::H1,
        TimeWindow::H24,
        TimeWindow::All,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TimeWindow::M1 => "1m",
            TimeWindow::M5 => "5m",
            TimeWindow::M15 => "15m",
            TimeWindow::H1 => "1h",
            TimeWindow::H24 => "24h",
            TimeWindow::All => "all",
        }
    }

    /// `None` for the whole range.
    pub fn duration(self) -> Option<Duration> {
        match self {
            TimeWindow::M1 => Some(Duration::minutes(1)),
            TimeWindow::M5 => Some(Duration::minutes(5)),
            TimeWindow::M15 => Some(Duration::minutes(15)),
            TimeWindow::H1 => Some(Duration::hours(1)),
            TimeWindow::H24 => Some(Duration::hours(24)),
            TimeWindow::All => None,
        }
    }

    fn next(self) -> Self {
        let i = Self::ALL.iter().position(|&w| w == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Log files: the paths as given.
    Files(Vec<String>),
    /// An Athena table (`athena://…`): counts from a pushed-down query.
    Athena(String),
    Live,
}

/// A list's selection and scroll offset; the offset is the renderer's,
/// which alone knows the height. The selection stays on its row when the rows
/// re-sort ([`selection`]).
#[derive(Debug, Default)]
pub struct ListState {
    pub selected: usize,
    /// The row at the top when last drawn (the renderer's, given back
    /// through [`App::drawn`]).
    pub offset: usize,
    /// Set by [`ListState::reset`]: the next rows take the position, not
    /// the row that was there.
    reset: bool,
}

impl ListState {
    /// Moves the selection to row `i` of the rows on screen.
    fn select(&mut self, i: usize) {
        self.selected = i;
    }

    /// Row `i` of the next rows (the list's content is about to change
    /// wholesale, as with a new filter).
    fn reset(&mut self, i: usize) {
        self.selected = i;
        self.reset = true;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SortState {
    /// Index into the pane's sort columns ([`sort_key::sort_keys`]).
    pub column: usize,
    pub reversed: bool,
}

/// A compiled row filter.
#[derive(Debug, Clone)]
pub struct Filter {
    pub text: String,
    pub regex: Regex,
    /// `akid:…`, `session:…`, `principal:…`, `ip:…`: the Events pane
    /// lists exactly the calls it selects; other panes match its value
    /// as text (in `regex`).
    pub selector: Option<crate::who::Selector>,
}

impl Filter {
    pub fn of_selector(text: String, selector: crate::who::Selector) -> Self {
        let value = text
            .split_once(':')
            .map_or(text.as_str(), |(_, v)| v.trim());
        // An escaped literal always compiles.
        let regex = Regex::new(&regex::escape(value))
            .unwrap_or_else(|_| unreachable!("an escaped literal is a valid pattern"));
        Self {
            text,
            regex,
            selector: Some(selector),
        }
    }
}

#[derive(Debug, Default)]
pub struct PaneState {
    pub list: ListState,
    pub sort: SortState,
    pub filter: Option<Filter>,
}

/// What a drill-down is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrillTarget {
    Principal(String),
    Key(String),
    Alert {
        rule: String,
        group: String,
        first: DateTime<Utc>,
    },
    SourceIp(String),
    /// A resource an encryption context names (`s3`, the object's ARN).
    Resource {
        service: &'static str,
        name: String,
    },
}

impl DrillTarget {
    /// The sections of its screen, in order (at most [`MAX_SECTIONS`]).
    pub fn sections(&self) -> &'static [Section] {
        match self {
            DrillTarget::Principal(_) => &[
                Section::Keys,
                Section::Contexts,
                Section::Resources,
                Section::Events,
            ],
            DrillTarget::Key(_) => &[Section::Principals, Section::Events],
            DrillTarget::Alert { .. } | DrillTarget::SourceIp(_) => &[Section::Events],
            DrillTarget::Resource { .. } => &[Section::Callers, Section::Keys, Section::Events],
        }
    }
}

/// Sections a drill-down has at most.
pub const MAX_SECTIONS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Keys,
    Principals,
    Contexts,
    Events,
    /// The principals that called on a resource.
    Callers,
    /// The resources a principal's data calls named.
    Resources,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Section::Keys => "Keys used",
            Section::Principals => "Principals",
            Section::Contexts => "Encryption contexts",
            Section::Events => "Events",
            Section::Callers => "Callers",
            Section::Resources => "Resources",
        }
    }
}

#[derive(Debug)]
pub struct Drill {
    pub target: DrillTarget,
    pub section: usize,
    pub lists: [ListState; MAX_SECTIONS],
    pub filter: Option<Filter>,
}

impl Drill {
    fn new(target: DrillTarget) -> Self {
        Self {
            target,
            section: 0,
            lists: Default::default(),
            filter: None,
        }
    }

    pub fn current(&self) -> Section {
        let s = self.target.sections();
        s[self.section.min(s.len() - 1)]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    Filter,
    Silence { rule: String, group: String },
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
    /// Why the last input was refused (an invalid regex, a bad duration).
    pub error: Option<String>,
}

/// The full JSON of one event, ready to show: lines already escaped.
#[derive(Debug, Clone)]
pub struct JsonView {
    pub title: String,
    /// Present when the original record was gone and only the parsed
    /// fields could be shown.
    pub note: Option<String>,
    pub lines: Vec<String>,
    pub scroll: usize,
    pub hscroll: usize,
    /// The event shown: a record that arrives later replaces its view.
    pub event: Option<log::EventKey>,
}

#[derive(Debug, Clone)]
pub enum Overlay {
    Help { scroll: usize },
    Json(JsonView),
    Prompt(Prompt),
}

/// A message in the footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub warning: bool,
}

/// Where things were drawn, for the mouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitTarget {
    Tab(Pane),
    /// A pane's or a drill section's rows: the first row's screen line and
    /// the row shown there.
    Rows {
        pane: Option<Pane>,
        section: Option<usize>,
        first_row: u16,
        offset: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub target: HitTarget,
    pub area: ratatui::layout::Rect,
}

pub struct App {
    pub data: Data,
    pub mode: Mode,
    /// Say DEMO in the header: the data is simulated.
    pub demo: bool,
    pub focus: Pane,
    pub panes: [PaneState; Pane::ALL.len()],
    pub drills: Vec<Drill>,
    pub overlay: Option<Overlay>,
    pub window: TimeWindow,
    /// The time travel cursor; `None` follows the end (now, live).
    pub cursor: Option<DateTime<Utc>>,
    /// Paused at this view time.
    pub paused: Option<DateTime<Utc>>,
    pub status: Option<Status>,
    pub keymap: Keymap,
    /// The last wall-clock time the loop saw.
    pub now: DateTime<Utc>,
    pub snapshot: Snapshot,
    /// Where the last frame drew tabs and rows (see [`App::drawn`]).
    pub hits: Vec<Hit>,
    /// `--quota` and `--price`: what the Quota & cost pane uses instead
    /// of the documented quotas and prices.
    pub usage: crate::aggregate::usage::UsageSettings,
    /// Live: records asked for again from CloudTrail, and those kept.
    pub refetch: refetch::Refetch,
    pub quit: bool,
}

impl App {
    /// For the 1m, 5m and 15m rates on screen: the share of their
    /// minutes' events CloudTrail is expected to show by now, while they
    /// are still filling. Only live, and only at the present (a cursor in
    /// the past looks at minutes that are in).
    pub fn filling(&self) -> [Option<f64>; 3] {
        if self.mode != Mode::Live || self.cursor.is_some() {
            return [None, None, None];
        }
        self.data.recent_filling(self.now)
    }

    /// For the header's events/s over every source: the share of the
    /// last minute's events that is in, while it is filling.
    pub fn filling_total(&self) -> Option<f64> {
        if self.mode != Mode::Live || self.cursor.is_some() {
            return None;
        }
        self.data.recent_filling_total(self.now)
    }

    pub fn new(data: Data, mode: Mode, now: DateTime<Utc>) -> Self {
        let window = match mode {
            Mode::Files(_) | Mode::Athena(_) => TimeWindow::All,
            Mode::Live => TimeWindow::M15,
        };
        Self {
            data,
            mode,
            demo: false,
            focus: Pane::Principals,
            panes: Default::default(),
            drills: Vec::new(),
            overlay: None,
            window,
            cursor: None,
            paused: None,
            status: None,
            keymap: Keymap::default(),
            now,
            snapshot: Snapshot::default(),
            hits: Vec::new(),
            usage: crate::aggregate::usage::UsageSettings::default(),
            refetch: refetch::Refetch::default(),
            quit: false,
        }
    }

    /// The end of time as the panes know it: the last event in file mode,
    /// the clock live.
    pub fn end(&self) -> DateTime<Utc> {
        match self.mode {
            Mode::Files(_) => self.data.last.unwrap_or(self.now),
            // The window's end: its last minutes may hold no event.
            Mode::Athena(_) => self
                .data
                .athena_window()
                .map_or_else(|| self.data.last.unwrap_or(self.now), |(_, until)| until),
            Mode::Live => self.now,
        }
    }

    /// The time the panes show.
    pub fn view_time(&self) -> DateTime<Utc> {
        self.cursor.or(self.paused).unwrap_or_else(|| self.end())
    }

    /// The start of the window ending at the view time.
    pub fn window_start(&self) -> DateTime<Utc> {
        let t = self.view_time();
        match self.window.duration() {
            Some(d) => t - d,
            None => match self.data.athena_window() {
                Some((since, _)) => since.min(t),
                None => self.data.first.unwrap_or(t).min(t),
            },
        }
    }

    /// Keys are text while a prompt is open; any key closes help.
    pub fn input_mode(&self) -> InputMode {
        match self.overlay {
            Some(Overlay::Prompt(_)) => InputMode::Prompt,
            Some(Overlay::Help { .. }) => InputMode::Help,
            _ => InputMode::Normal,
        }
    }

    /// Takes what the renderer reports of the frame it drew: where tabs
    /// and rows went (for the mouse) and each list's scroll offset.
    pub fn drawn(&mut self, hits: Vec<Hit>) {
        for hit in &hits {
            let HitTarget::Rows {
                pane,
                section,
                offset,
                ..
            } = hit.target
            else {
                continue;
            };
            let list = match (section, self.drills.last_mut(), pane) {
                (Some(s), Some(d), _) => &mut d.lists[s.min(MAX_SECTIONS - 1)],
                (None, None, Some(p)) => &mut self.panes[p.index()].list,
                _ => continue,
            };
            list.offset = offset;
        }
        self.hits = hits;
    }

    /// Rebuilds the rows if anything they depend on changed.
    pub fn refresh(&mut self) {
        let key = query::SnapKey {
            generation: self.data.generation,
            view: query::ViewKey::of(self),
            time: self.view_time(),
            from: self.window_start(),
        };
        if self.snapshot.key.as_ref() != Some(&key) {
            let remembered = selection::remember(self);
            self.snapshot = query::build(self, key);
            selection::follow(self, &remembered);
        }
    }

    /// Rebuilds the rows whatever the cache says (benchmarks).
    pub fn rebuild(&mut self) {
        self.snapshot.key = None;
        self.refresh();
    }
}
