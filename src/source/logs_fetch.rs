//! A trail's log group as inputs of the one file scanner: `FilterLogEvents`
//! pages, searched server-side for the question's KMS events, paced to the
//! call's quota, each page handed to the readers as one in-memory input of
//! one record per line.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tokio::time::{Duration, MissedTickBehavior};

use super::files::Input;
use super::log_group::{LogGroupUrl, filter_pattern, time_range_ms};
use super::s3_walk::ListFailure;
use super::trail_fetch::Fetched;
use super::trail_layout::Selection;
use crate::aws::{FilterRequest, LogMessage, LogsReader};

/// `FilterLogEvents` is allowed 5 requests a second per account and
/// region; kmstop stays under it rather than lean on retries.
const REQUEST_EVERY: Duration = Duration::from_millis(200);

/// One `logs://` source, with its reader.
pub struct Group {
    pub url: LogGroupUrl,
    pub reader: LogsReader,
}

/// Pages through every group, sending each non-empty page numbered from
/// `first_index`; returns the next free index. A group that fails is named
/// in `fetched`'s failures, with what it gave before counted.
pub async fn fetch_groups(
    groups: Vec<Group>,
    selection: &Selection,
    first_index: usize,
    tx: &mpsc::Sender<(usize, Input)>,
    fetched: &Arc<Fetched>,
) -> usize {
    let pattern = filter_pattern(selection);
    let (start_ms, end_ms) = time_range_ms(selection);
    let mut pacing = tokio::time::interval(REQUEST_EVERY);
    pacing.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut index = first_index;
    for group in groups {
        let mut next: Option<String> = None;
        let mut tokens = std::collections::HashSet::new();
        let mut page_number = 0_u64;
        let mut searched = true;
        loop {
            pacing.tick().await;
            let request = FilterRequest {
                pattern: &pattern,
                start_ms,
                end_ms,
                next: next.as_deref(),
            };
            let page = match group.reader.filter_page(request).await {
                Ok(page) => page,
                Err(error) => {
                    fetched.fail(ListFailure {
                        address: group.url.to_string(),
                        error,
                    });
                    searched = false;
                    break;
                }
            };
            fetched.log_pages.fetch_add(1, Ordering::Relaxed);
            page_number += 1;
            if !page.messages.is_empty() {
                let bytes = lines_of(&page.messages);
                fetched
                    .bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                let input = Input::Memory {
                    name: format!("{} (page {page_number})", group.url),
                    bytes: Arc::from(bytes),
                };
                if tx.send((index, input)).await.is_err() {
                    return index;
                }
                index += 1;
            }
            // A token given before would page forever.
            match page.next {
                Some(token) if tokens.insert(token.clone()) => next = Some(token),
                _ => break,
            }
        }
        if searched {
            fetched.groups_searched.fetch_add(1, Ordering::Relaxed);
        }
    }
    index
}

/// The page's messages, one per line. A message is one JSON record, in
/// which a raw line break can only be whitespace (JSON strings cannot hold
/// one): as a space it keeps the record whole and on its own line, so a
/// message can never split into two records.
fn lines_of(messages: &[LogMessage]) -> Vec<u8> {
    let total = messages.iter().map(|m| m.message.len() + 1).sum();
    let mut bytes = Vec::with_capacity(total);
    for m in messages {
        bytes.extend(
            m.message
                .bytes()
                .map(|b| if matches!(b, b'\n' | b'\r') { b' ' } else { b }),
        );
        bytes.push(b'\n');
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_is_one_line_whatever_it_holds() {
        let messages = [
            LogMessage {
                stream: "s".into(),
                message: "{\"a\":\n1}".into(),
            },
            LogMessage {
                stream: "s".into(),
                message: "{}\r\n{\"eventSource\":\"kms.amazonaws.com\"}".into(),
            },
        ];
        let text = String::from_utf8(lines_of(&messages)).expect("utf-8");
        assert_eq!(
            text,
            "{\"a\": 1}\n{}  {\"eventSource\":\"kms.amazonaws.com\"}\n"
        );
    }
}
