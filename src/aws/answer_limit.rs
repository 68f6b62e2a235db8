//! A cap on the size of one AWS answer. The SDK reads a whole answer into
//! memory before it parses it, so an endpoint that streams without end (a
//! hostile `--endpoint-url`, a broken proxy) would grow kmstop until the
//! machine gave out. No answer kmstop asks for comes near the cap: a
//! `LookupEvents` page holds at most 50 events of at most 256 KB each, and
//! escaped as a JSON string each takes at most about twice that.

use std::fmt;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use http_body_util::{BodyExt, Limited};

/// The most bytes one answer may carry.
pub const MAX_ANSWER_BYTES: usize = 32 << 20;

/// Refuses an answer, while it is read, once it passes the cap.
#[derive(Debug, Default)]
pub struct AnswerLimit;

impl Intercept for AnswerLimit {
    fn name(&self) -> &'static str {
        "kmstop::AnswerLimit"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response_mut();
        let body = response.take_body();
        let limited = Limited::new(body, MAX_ANSWER_BYTES).map_err(|e| -> BoxError {
            if e.is::<http_body_util::LengthLimitError>() {
                Box::new(AnswerTooLarge)
            } else {
                e
            }
        });
        *response.body_mut() = SdkBody::from_body_1_x(limited);
        Ok(())
    }
}

/// The error an over-long answer ends in; `AwsError::from_sdk` finds it
/// in the cause chain and does not retry.
#[derive(Debug, Clone, Copy)]
pub struct AnswerTooLarge;

impl fmt::Display for AnswerTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the endpoint's answer passed {} MiB, far more than any answer kmstop asks for; refused",
            MAX_ANSWER_BYTES >> 20
        )
    }
}

impl std::error::Error for AnswerTooLarge {}
