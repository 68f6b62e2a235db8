//! Shared by the integration tests that talk to AWS-compatible servers.
//! Each test binary uses only some of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod key_list;
pub mod moto;
