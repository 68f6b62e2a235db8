//! Shared by the integration tests: servers that speak AWS (moto), the
//! expected `kmstop keys` output, and the dashboard's fixed story. Each test
//! binary uses only some of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod key_list;
pub mod moto;
pub mod story;
pub mod tmux;

#[allow(unused_imports)]
pub use story::*;
