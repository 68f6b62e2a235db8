//! The dashboard's asks for records it no longer holds ([`RecordAsk`]):
//! each is read from LookupEvents by the event's id, in the account and
//! region that logged it, and answered through the dashboard's channel.
//! The dashboard bounds the asks (one per id, a few at once); each waits
//! on the region's pacer, as the poller's requests do, is tried a few
//! times when throttled, and is always answered.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use super::super::outbox::Outbox;
use super::Pacer;
use crate::aws::CloudTrailReader;
use crate::feed::{RecordAnswer, RecordAsk, SourceId, SourceMsg};

/// A record longer than this is refused: CloudTrail delivers none over
/// 256 KB, so a longer one is not CloudTrail's.
pub const MAX_RECORD: usize = 1 << 20;
/// Attempts at one ask while throttled (or a server or network failure).
const ATTEMPTS: u32 = 3;
/// The first pause after a throttle; it doubles.
const BACKOFF: Duration = Duration::from_millis(500);
/// An attempt without an answer by then fails.
const DEADLINE: Duration = Duration::from_secs(30);
/// An error message is cut to this many characters for the note.
const MAX_MESSAGE: usize = 300;

/// LookupEvents for each account × region read, with the pacer its
/// poller waits on (LookupEvents' rate is the region's, for every caller).
pub struct RecordReaders(Vec<(SourceId, CloudTrailReader, Arc<Pacer>)>);

impl RecordReaders {
    pub fn new(readers: Vec<(SourceId, CloudTrailReader, Arc<Pacer>)>) -> Self {
        Self(readers)
    }

    /// The reader of the ask's account and region; without an account,
    /// the only one reading the region.
    fn find(&self, ask: &RecordAsk) -> Result<(&CloudTrailReader, &Pacer), String> {
        let mut in_region = self.0.iter().filter(|(s, _, _)| s.region == ask.region);
        let found = match &ask.account {
            Some(account) => in_region.find(|(s, _, _)| s.account == *account),
            None => in_region.next().filter(|_| in_region.next().is_none()),
        };
        found
            .map(|(_, reader, pacer)| (reader, pacer.as_ref()))
            .ok_or_else(|| {
                format!(
                    "kmstop reads no such account in {} (the event's account: {})",
                    ask.region,
                    ask.account.as_deref().unwrap_or("not named")
                )
            })
    }
}

/// Answers every ask until the dashboard is gone, each on its own task.
pub async fn serve(readers: RecordReaders, mut asks: UnboundedReceiver<RecordAsk>, tx: Outbox) {
    let readers = Arc::new(readers);
    while let Some(ask) = asks.recv().await {
        let readers = Arc::clone(&readers);
        let tx = tx.clone();
        tokio::spawn(async move {
            let record = read(&readers, &ask).await;
            let answer = RecordAnswer {
                event_id: ask.event_id,
                record,
            };
            let _ = tx.send(SourceMsg::Record(answer)).await;
        });
    }
}

/// The record of the asked event, `None` when LookupEvents has no event
/// of that id.
async fn read(readers: &RecordReaders, ask: &RecordAsk) -> Result<Option<String>, String> {
    if ask.at.is_some() {
        return Err("the record lies in a file, which the live sources do not read".to_owned());
    }
    let (reader, pacer) = readers.find(ask)?;
    let mut pause = BACKOFF;
    let mut attempt = 1;
    let found = loop {
        pacer.acquire().await;
        match tokio::time::timeout(DEADLINE, reader.lookup_event(&ask.event_id)).await {
            Err(_) => return Err(format!("no answer within {} s", DEADLINE.as_secs())),
            Ok(Ok(found)) => break found,
            Ok(Err(e)) if e.kind.is_transient() && attempt < ATTEMPTS => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            Ok(Err(e)) => return Err(e.to_string().chars().take(MAX_MESSAGE).collect()),
        }
    };
    let Some(found) = found else {
        return Ok(None);
    };
    match found.record {
        None => Err("LookupEvents answered without the record".to_owned()),
        Some(r) if r.len() > MAX_RECORD => Err(format!(
            "the record is {} bytes, over the {} a record may have",
            r.len(),
            MAX_RECORD
        )),
        Some(r) => Ok(Some(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers(sources: &[(&str, &str)]) -> RecordReaders {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        RecordReaders::new(
            sources
                .iter()
                .map(|(account, region)| {
                    let source = SourceId {
                        account: (*account).to_owned(),
                        region: (*region).to_owned(),
                    };
                    let reader = CloudTrailReader::new(&config, region);
                    (source, reader, Pacer::lookup_events())
                })
                .collect(),
        )
    }

    fn ask(account: Option<&str>, region: &str) -> RecordAsk {
        RecordAsk {
            event_id: "e".to_owned(),
            at: None,
            account: account.map(str::to_owned),
            region: region.to_owned(),
        }
    }

    #[test]
    fn an_ask_goes_to_its_own_account_and_region() {
        let two = readers(&[
            ("111111111111", "us-east-1"),
            ("222222222222", "us-east-1"),
            ("111111111111", "eu-west-1"),
        ]);
        let found = |a: &RecordAsk| two.find(a).map(|(r, _)| std::ptr::from_ref(r)).ok();
        let at = |i: usize| Some(std::ptr::from_ref(&two.0[i].1));
        assert_eq!(found(&ask(Some("222222222222"), "us-east-1")), at(1));
        assert_eq!(found(&ask(Some("111111111111"), "eu-west-1")), at(2));
        assert_eq!(found(&ask(Some("333333333333"), "us-east-1")), None);
        // No account named: only a region read by one account will do.
        assert_eq!(found(&ask(None, "us-east-1")), None);
        assert_eq!(found(&ask(None, "eu-west-1")), at(2));
        let err = two.find(&ask(Some("333333333333"), "us-east-1")).err();
        assert!(err.is_some_and(|e| e.contains("333333333333")));
    }
}
