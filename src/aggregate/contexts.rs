//! The most frequent encryption-context pairs of a principal or key.

use crate::store::{Dim, Store};

/// One encryption-context pair and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRow<'s> {
    pub key: &'s str,
    pub value: &'s str,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopContexts<'s> {
    /// Most frequent first; ties by key then value.
    pub rows: Vec<ContextRow<'s>>,
    /// Pairs not in `rows`: those beyond `n` plus those the entity's table
    /// had no room for.
    pub other: u64,
}

/// The `n` most frequent context pairs of a principal or key.
pub fn top_contexts(store: &Store, dim: Dim, id: u32, n: usize) -> Option<TopContexts<'_>> {
    let info = store.entity(dim, id)?;
    let mut rows: Vec<ContextRow<'_>> = info
        .contexts
        .pairs()
        .map(|(pair, count)| {
            let (key, value) = store.context_pair(pair);
            ContextRow { key, value, count }
        })
        .collect();
    rows.sort_unstable_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.key.cmp(b.key))
            .then(a.value.cmp(b.value))
    });
    let rest: u64 = rows.iter().skip(n).map(|r| r.count).sum();
    rows.truncate(n);
    Some(TopContexts {
        rows,
        other: rest + info.contexts.other(),
    })
}
