//! The only door to AWS, and it opens for reading only: every call kmstop
//! makes is a method here, and every method is a read (`Lookup*`,
//! `List*`, `Describe*`, `Get*`, `FilterLogEvents`, `StartLiveTail`,
//! S3's `HeadBucket`, SQS's `ReceiveMessage`) — but one: `--sqs-queue`
//! deletes the messages it has handled from the queue the user made for
//! it (`SqsReader::delete`). The SDK clients are
//! private to this module, so no other code can reach a mutating API. A test runs the whole live path
//! against the simulator and checks every request against an allow-list.

mod answer_limit;
pub mod athena;
mod cloudtrail;
mod error;
mod kms;
mod logs;
mod s3;
mod sqs;
mod sts;
mod targets;
mod time;

pub use cloudtrail::{
    CloudTrailReader, KMS_EVENT_SOURCE, LookedUp, LookupPage, LookupWindow, PAGE_SIZE, TrailInfo,
};
pub use error::{AwsError, ErrorKind, kind_of_code};
pub use kms::{AliasEntry, KeyDescription, KmsReader, LastUsage, ListedKey, RotationStatus};
pub use logs::{FilterRequest, LiveTail, LogMessage, LogPage, LogsReader, TailUpdate};
pub use s3::{ListPage, ListRequest, ListedObject, S3Reader};
pub use sqs::{QueueMessage, SqsReader};
pub use sts::{CredentialHint, caller_identity, credential_hint, explain, identify, one_line};
pub use targets::{
    ALL_REGIONS, APP_NAME, AccountConfig, TargetOptions, load_account, load_config, profile_label,
};
