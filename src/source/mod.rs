//! Where events come from. Only this module (and the simulator) does I/O.

mod container;
mod decode;
pub mod file_feed;
pub mod files;
pub mod inventory;
pub mod live_tail;
pub mod log_group;
pub mod logs_fetch;
pub mod lookup;
pub mod object_records;
pub mod outbox;
pub mod s3_notice;
pub mod s3_walk;
pub mod trail_fetch;
pub mod trail_find;
pub mod trail_follow;
pub mod trail_layout;

pub use container::{Contents, Item, for_each_log_record, read_container};
pub use decode::{Sniffed, gunzip, sniff};
