//! An SQS queue of the trail bucket's "object created" notifications
//! (`--sqs-queue`): `ReceiveMessage`, and `DeleteMessage` for the messages
//! kmstop has handled — the one call kmstop makes that changes anything,
//! only on a queue the user made for it and named on the command line.

use aws_config::SdkConfig;

use super::answer_limit::AnswerLimit;
use super::error::AwsError;

/// One message: its body, and the handle that deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub body: String,
    pub receipt: String,
}

/// The most messages one `ReceiveMessage` returns.
const BATCH: i32 = 10;
/// Long polling: an empty queue answers after this, not at once.
const WAIT_SECONDS: i32 = 20;

#[derive(Debug, Clone)]
pub struct SqsReader {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsReader {
    /// A reader of the queue at `url`, in the region its address names
    /// (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`), else the
    /// configuration's.
    pub fn new(config: &SdkConfig, url: &str) -> Self {
        let mut conf = aws_sdk_sqs::config::Builder::from(config).interceptor(AnswerLimit);
        if let Some(region) = region_of(url) {
            conf = conf.region(aws_config::Region::new(region));
        }
        Self {
            client: aws_sdk_sqs::Client::from_conf(conf.build()),
            url: url.to_string(),
        }
    }

    /// Up to ten messages, waiting up to 20 s for the first.
    pub async fn receive(&self) -> Result<Vec<QueueMessage>, AwsError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(BATCH)
            .wait_time_seconds(WAIT_SECONDS)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(QueueMessage {
                    body: m.body()?.to_string(),
                    receipt: m.receipt_handle()?.to_string(),
                })
            })
            .collect())
    }

    /// Deletes one handled message.
    pub async fn delete(&self, receipt: &str) -> Result<(), AwsError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk(&e))
    }
}

/// The region in a queue address: `sqs.REGION.amazonaws.com` or the
/// legacy `REGION.queue.amazonaws.com`.
fn region_of(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let region = host
        .strip_prefix("sqs.")
        .and_then(|rest| rest.split('.').next())
        .or_else(|| host.strip_suffix(".queue.amazonaws.com"))?;
    let shaped = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    shaped.then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::region_of;

    #[test]
    fn the_region_comes_from_the_address() {
        assert_eq!(
            region_of("https://sqs.eu-west-1.amazonaws.com/111122223333/kmstop").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of("https://us-east-2.queue.amazonaws.com/111122223333/q").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_of("http://127.0.0.1:5000/111122223333/q"), None);
    }
}
