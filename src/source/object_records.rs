//! The file dashboard's asks for records that lie in S3 (a trail's
//! objects read with `--source s3://…`) and are no longer held: the
//! object is fetched again (`GetObject`), inflated as the reader inflated
//! it, and the record sliced from where it lay; the dashboard checks it is
//! still the same event. The dashboard bounds the asks (one per event, a
//! few at once); each is always answered.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::decode::MAX_INFLATED;
use super::files::{Input, record_in};
use super::outbox::Outbox;
use crate::aws::{S3Reader, TargetOptions, load_config};
use crate::feed::{RecordAnswer, RecordAsk, RecordFile, SourceMsg};

/// Buckets whose readers are kept (a file dashboard reads a few).
const MAX_BUCKETS: usize = 16;
/// An error message is cut to this many characters for the note.
const MAX_MESSAGE: usize = 300;

/// Starts answering asks for records in S3, reached as `options` says
/// (the buckets' own `--profile`, endpoint…), on a thread of its own; the
/// answers go into `out`. Returns where to send the asks; it stops when
/// they can no longer come.
pub fn serve<M: From<SourceMsg> + Send + 'static>(
    options: TargetOptions,
    out: SyncSender<M>,
) -> UnboundedSender<RecordAsk> {
    let (asks, asked) = tokio::sync::mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("kmstop-records".into())
        .spawn(move || {
            // Multi-threaded: the blocking outbox needs it.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(answer_all(options, asked, Outbox::blocking(out))),
                Err(e) => tracing::error!("cannot read records from S3: {e}"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot read records from S3: {e}");
    }
    asks
}

async fn answer_all(options: TargetOptions, mut asked: UnboundedReceiver<RecordAsk>, tx: Outbox) {
    let profile = options.profiles.first().cloned();
    let config = load_config(profile.as_deref(), &options)
        .await
        .map_err(|e| e.to_string());
    let mut readers: HashMap<String, Arc<S3Reader>> = HashMap::new();
    while let Some(ask) = asked.recv().await {
        let object = match ask.at.as_ref().map(|at| at.file.as_ref()) {
            Some(RecordFile::Object { bucket, key }) => Ok((bucket.clone(), key.clone())),
            _ => Err("the record lies in no S3 object".to_owned()),
        };
        let reader = match (&object, &config) {
            (Ok((bucket, _)), Ok(config)) => reader(&mut readers, config, bucket).await,
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let record = match (reader, object, &ask.at) {
                (Ok(reader), Ok((bucket, key)), Some(at)) => {
                    match reader.get(&key, MAX_INFLATED).await {
                        Ok(bytes) => {
                            let input = Input::Memory {
                                name: format!("s3://{bucket}/{key}"),
                                bytes: Arc::from(bytes),
                            };
                            // Inflating is CPU work: off the async threads.
                            let at = at.clone();
                            tokio::task::spawn_blocking(move || record_in(&input, &at))
                                .await
                                .unwrap_or_else(|e| Err(e.to_string()))
                                .map(Some)
                        }
                        Err(e) => Err(e.to_string().chars().take(MAX_MESSAGE).collect()),
                    }
                }
                (Err(e), _, _) | (_, Err(e), _) => Err(e),
                (_, _, None) => Err("the record lies in no S3 object".to_owned()),
            };
            let answer = RecordAnswer {
                event_id: ask.event_id,
                record,
            };
            let _ = tx.send(SourceMsg::Record(answer)).await;
        });
    }
}

/// The bucket's reader, opened once (in the bucket's own region).
async fn reader(
    readers: &mut HashMap<String, Arc<S3Reader>>,
    config: &aws_config::SdkConfig,
    bucket: &str,
) -> Result<Arc<S3Reader>, String> {
    if let Some(r) = readers.get(bucket) {
        return Ok(Arc::clone(r));
    }
    let opened = Arc::new(
        S3Reader::open(config, bucket)
            .await
            .map_err(|e| e.to_string())?,
    );
    if readers.len() >= MAX_BUCKETS {
        readers.clear();
    }
    readers.insert(bucket.to_owned(), Arc::clone(&opened));
    Ok(opened)
}
