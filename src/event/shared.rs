//! Texts that many events repeat, held once for the whole process.
//!
//! A busy account's events differ in their id, time and session, but name
//! the same few principals, keys, regions, accounts and user agents again
//! and again: copying those into every held event was most of its bytes.
//! [`PackedEvent`](super::PackedEvent) keeps a small number for each such
//! field instead, and this table turns it back into the text.
//!
//! The table only grows: a text once shared stays for the life of the
//! process. So it is capped ([`MAX_TEXTS`], [`MAX_BYTES`]); past the cap
//! (data made of ever-new values) events keep their own copies, as before,
//! and memory again follows the events held, which are bounded.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

/// Texts shared at most.
pub const MAX_TEXTS: usize = 1 << 20;
/// Bytes of shared text at most (the texts themselves).
pub const MAX_BYTES: usize = 64 << 20;
/// Texts longer than this are not worth a lookup, and could fill the cap.
const MAX_LEN: usize = 1024;
/// Each thread remembers this many lookups before starting afresh: the
/// shared map's lock is taken only for texts a thread has not seen.
const THREAD_CACHE: usize = 1 << 16;

/// A shared text by its number: 4 bytes a slot, where a `(&str, u32)`
/// pair took 24 (a corpus whose VPC endpoint ids never repeat filled the
/// table's map to 20 MB). It hashes and compares as its text, so the set
/// is looked up by text.
#[derive(Clone, Copy)]
struct Id(u32);

impl Id {
    fn text(self) -> &'static str {
        text_of(self.0).unwrap_or_default()
    }
}

impl Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text().hash(state);
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.text() == other.text()
    }
}

impl Eq for Id {}

impl Borrow<str> for Id {
    fn borrow(&self) -> &str {
        self.text()
    }
}

type Map = HashSet<Id, foldhash::fast::RandomState>;

struct Table {
    texts: boxcar::Vec<Box<str>>,
    ids: Mutex<Map>,
    bytes: AtomicUsize,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| Table {
    texts: boxcar::Vec::new(),
    ids: Mutex::new(Map::default()),
    bytes: AtomicUsize::new(0),
});

thread_local! {
    static CACHE: RefCell<Map> = RefCell::new(Map::default());
}

/// The number of `text`, sharing it if it is new; `None` when it cannot be
/// shared (too long, or the table is full).
pub fn share(text: &str) -> Option<u32> {
    if text.len() > MAX_LEN {
        return None;
    }
    if let Some(id) = CACHE.with(|c| c.borrow().get(text).copied()) {
        return Some(id.0);
    }
    let table = &*TABLE;
    let id = {
        let mut ids = table.ids.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&Id(id)) = ids.get(text) {
            id
        } else {
            if ids.len() >= MAX_TEXTS
                || table.bytes.load(Ordering::Relaxed) + text.len() > MAX_BYTES
            {
                return None;
            }
            let index = table.texts.push(Box::from(text));
            let id = u32::try_from(index).ok()?;
            table.bytes.fetch_add(text.len(), Ordering::Relaxed);
            ids.insert(Id(id));
            id
        }
    };
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= THREAD_CACHE {
            cache.clear();
        }
        cache.insert(Id(id));
    });
    Some(id)
}

/// The text numbered `id` by [`share`].
pub fn text_of(id: u32) -> Option<&'static str> {
    TABLE.texts.get(id as usize).map(AsRef::as_ref)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_shared_twice_has_one_number_and_reads_back() {
        let a = share("arn:aws:iam::111122223333:role/shared-test").expect("shared");
        let b = share(&String::from("arn:aws:iam::111122223333:role/shared-test")).expect("shared");
        assert_eq!(a, b);
        assert_eq!(
            text_of(a),
            Some("arn:aws:iam::111122223333:role/shared-test")
        );
        // Another thread finds the same number (through the shared map).
        let c = std::thread::spawn(|| share("arn:aws:iam::111122223333:role/shared-test"))
            .join()
            .expect("thread");
        assert_eq!(c, Some(a));
        assert_ne!(share("another text"), Some(a));
    }

    #[test]
    fn long_texts_are_not_shared() {
        assert_eq!(share(&"x".repeat(MAX_LEN + 1)), None);
        assert!(share(&"x".repeat(MAX_LEN)).is_some());
    }
}
