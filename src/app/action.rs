//! Everything a person can ask the dashboard to do. Keys, mouse and tests
//! all speak this one enum; [`super::update`] is the only place that acts
//! on it.

use super::Pane;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    NextPane,
    PrevPane,
    Focus(Pane),
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Previous / next section of a drill-down; scrolls the JSON view
    /// sideways.
    Left,
    Right,
    Enter,
    Back,
    Filter,
    CycleSort,
    ReverseSort,
    CycleWindow,
    Pause,
    Ack,
    Silence,
    Export,
    Help,
    CycleTheme,
    /// Time travel: the cursor back / forward by the window.
    TimeBack,
    TimeForward,
    PrevAlert,
    NextAlert,
    /// The cursor back to the end of the data (or to now, live).
    TimeEnd,
    // Text entry in a prompt.
    Input(char),
    Backspace,
    // Mouse, in terminal cells.
    Click {
        column: u16,
        row: u16,
    },
    ScrollUp {
        column: u16,
        row: u16,
    },
    ScrollDown {
        column: u16,
        row: u16,
    },
}
