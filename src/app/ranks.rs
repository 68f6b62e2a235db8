//! Every principal's and source IP's place in name order, so that tables
//! of thousands of rows break ties between equal counts by comparing two
//! numbers, not two ARNs that share their first forty bytes. Rebuilt only
//! when a name came or went; the snapshot hands it on otherwise.

use crate::store::{Dim, Store};

#[derive(Debug, Default)]
pub struct NameRanks {
    principals: Ranks,
    source_ips: Ranks,
}

#[derive(Debug, Default)]
struct Ranks {
    version: Option<u64>,
    /// By id: its position when the ids are sorted by name.
    rank: Vec<u32>,
}

impl Ranks {
    fn of(store: &Store, dim: Dim) -> Self {
        let bound = store.id_bound(dim) as u32;
        let mut ids: Vec<u32> = (0..bound).collect();
        ids.sort_unstable_by(|&a, &b| store.name(dim, a).cmp(store.name(dim, b)).then(a.cmp(&b)));
        let mut rank = vec![0; ids.len()];
        for (place, &id) in ids.iter().enumerate() {
            rank[id as usize] = place as u32;
        }
        Self {
            version: Some(store.names_version(dim)),
            rank,
        }
    }

    fn fresh(&self, store: &Store, dim: Dim) -> bool {
        self.version == Some(store.names_version(dim))
    }

    fn get(&self, id: u32) -> u32 {
        self.rank.get(id as usize).copied().unwrap_or(u32::MAX)
    }
}

impl NameRanks {
    pub fn of(store: &Store) -> Self {
        Self {
            principals: Ranks::of(store, Dim::Principal),
            source_ips: Ranks::of(store, Dim::SourceIp),
        }
    }

    /// Still right for the store's names.
    pub fn fresh(&self, store: &Store) -> bool {
        self.principals.fresh(store, Dim::Principal) && self.source_ips.fresh(store, Dim::SourceIp)
    }

    /// The place of a principal or source IP id in name order: two ids
    /// compare as their names do.
    pub fn rank(&self, dim: Dim, id: u32) -> u32 {
        match dim {
            Dim::SourceIp => self.source_ips.get(id),
            _ => self.principals.get(id),
        }
    }
}
