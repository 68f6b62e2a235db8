//! The numbers an event's values and groups have in the engine's
//! [`Interner`], found once per event for every rule that asks.
//!
//! A rule's group is its `group_by` values written `field=value, …`
//! (`(none)` for a missing value). Its number must be the same for two
//! events exactly when that text is: for one field, the number of the
//! value's text (a missing value numbered as the text `(none)`); for no
//! field, one number for the whole rule; for several fields, the number of
//! the written text itself (values containing `, ` could otherwise make
//! two different value lists write the same text).

use super::intern::{Interner, RESERVED};
use super::spec::Field;
use super::state::{NONE_VALUE, field_value, write_group};
use crate::event::KmsEvent;

/// The number of the one group of a rule without `group_by`.
pub const WHOLE: u32 = u32::MAX - RESERVED + 1;
/// The number of the `(other)` group (past a rule's caps).
pub const OTHER: u32 = u32::MAX - RESERVED + 2;

/// How a rule's group gets its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPlan {
    Whole,
    One(Field),
    Many,
}

impl GroupPlan {
    pub fn of(group_by: &[Field]) -> Self {
        match group_by {
            [] => Self::Whole,
            [f] => Self::One(*f),
            _ => Self::Many,
        }
    }
}

/// Fields a value can be asked of (every [`Field`]).
const FIELDS: usize = Field::ContextKey as usize + 1;
/// Not looked up yet.
const UNKNOWN: u32 = u32::MAX;
/// Looked up: the event has no value.
const ABSENT: u32 = u32::MAX - 1;

/// One event's value numbers, looked up as rules ask for them.
pub struct EventKeys<'a, 'e> {
    event: &'a KmsEvent<'e>,
    interner: &'a mut Interner,
    /// The number of the text `(none)`.
    none: u32,
    ids: [u32; FIELDS],
    /// Scratch for a group of several fields.
    text: &'a mut String,
}

impl<'a, 'e> EventKeys<'a, 'e> {
    pub fn new(
        event: &'a KmsEvent<'e>,
        interner: &'a mut Interner,
        none: u32,
        text: &'a mut String,
    ) -> Self {
        Self {
            event,
            interner,
            none,
            ids: [UNKNOWN; FIELDS],
            text,
        }
    }

    pub fn event(&self) -> &'a KmsEvent<'e> {
        self.event
    }

    /// The number of the event's value of `field`; `None` without one.
    pub fn value(&mut self, field: Field) -> Option<u32> {
        let slot = &mut self.ids[field as usize];
        if *slot == UNKNOWN {
            *slot = match field_value(self.event, field) {
                Some(v) => self.interner.id(&v),
                None => ABSENT,
            };
        }
        (*slot != ABSENT).then_some(*slot)
    }

    /// The number of the event's group under `plan` (`group_by` fields).
    pub fn group(&mut self, plan: GroupPlan, group_by: &[Field]) -> u32 {
        match plan {
            GroupPlan::Whole => WHOLE,
            GroupPlan::One(f) => self.value(f).unwrap_or(self.none),
            GroupPlan::Many => {
                write_group(self.text, group_by, self.event);
                self.interner.id(self.text)
            }
        }
    }
}

/// The number of `(none)` in `interner`.
pub fn none_id(interner: &mut Interner) -> u32 {
    interner.id(NONE_VALUE)
}

// The engine's own numbers are distinct and out of the interner's reach.
const _: () = {
    let own = [WHOLE, OTHER, UNKNOWN, ABSENT];
    let mut i = 0;
    while i < own.len() {
        assert!(own[i] > u32::MAX - RESERVED);
        let mut j = i + 1;
        while j < own.len() {
            assert!(own[i] != own[j]);
            j += 1;
        }
        i += 1;
    }
};
