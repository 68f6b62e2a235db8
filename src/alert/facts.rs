//! What rules read of an event beyond its own fields, found once per
//! event for every rule that asks (see [`super::engine`]).

use std::cell::OnceCell;

use super::created::CreatedKeys;
use super::spec::Direction;
use crate::event::KmsEvent;
use crate::inventory::{Inventory, KeyFacts};

/// What rules read of an event beyond its own fields, found at most once
/// per event however many rules ask: the key's inventory facts, the
/// key's account, and whether the call crossed accounts.
pub struct EventFacts<'a, 'e> {
    pub(crate) event: &'a KmsEvent<'e>,
    inventory: &'a Inventory,
    /// The keys the engine saw created, and by whom (none outside it).
    created: Option<&'a CreatedKeys>,
    key_facts: OnceCell<Option<&'a KeyFacts>>,
    key_account: OnceCell<Option<&'a str>>,
    /// Whether the caller's account differs from the key's, and the
    /// call's direction; `None` without both accounts.
    cross: OnceCell<Option<(bool, Direction)>>,
}

impl<'a, 'e> EventFacts<'a, 'e> {
    pub fn new(event: &'a KmsEvent<'e>, inventory: &'a Inventory) -> Self {
        Self {
            event,
            inventory,
            created: None,
            key_facts: OnceCell::new(),
            key_account: OnceCell::new(),
            cross: OnceCell::new(),
        }
    }

    /// With the engine's memory of created keys.
    #[must_use]
    pub(super) fn with_created(mut self, created: &'a CreatedKeys) -> Self {
        self.created = Some(created);
        self
    }

    pub fn event(&self) -> &'a KmsEvent<'e> {
        self.event
    }

    /// Whether the event's key was created by its caller at most
    /// `within_ms` before; false without the engine's memory.
    pub fn key_created_by_caller(&self, within_ms: i64) -> bool {
        self.created
            .is_some_and(|c| c.by_caller_within(self.event, within_ms))
    }

    /// The key's inventory facts, if the inventory knows the key.
    pub fn key_facts(&self) -> Option<&'a KeyFacts> {
        *self.key_facts.get_or_init(|| {
            let arn = &self.event.key.as_ref()?.arn;
            self.inventory.get(arn)
        })
    }

    /// The account in the key's ARN.
    pub fn key_account(&self) -> Option<&'a str> {
        *self
            .key_account
            .get_or_init(|| self.event.key.as_ref().and_then(|k| k.account()))
    }

    pub(super) fn cross(&self) -> Option<(bool, Direction)> {
        *self.cross.get_or_init(|| {
            let e = self.event;
            let caller = e.principal_account.as_deref().filter(|a| !a.is_empty())?;
            let owner = self.key_account()?;
            Some((caller != owner, direction(e, owner)))
        })
    }
}

/// Outbound when the recipient account (whose trail this is) made the
/// call with another account's key; otherwise inbound, the key owner's
/// view, which is also what a record without a recipient is taken for.
fn direction(e: &KmsEvent<'_>, key_owner: &str) -> Direction {
    match e.recipient_account.as_deref() {
        Some(recipient) if !recipient.is_empty() && recipient != key_owner => Direction::Outbound,
        _ => Direction::Inbound,
    }
}
