//! Where an async source (a LookupEvents poller, the key inventory) sends
//! its messages: an async consumer's channel (`tail`), or a blocking one's
//! (the dashboard's loop, which also waits on input and a frame timer).
//! Either way a full channel makes the source wait: that is the
//! backpressure that keeps memory bounded, and no relay thread stands
//! between the two.

use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use tokio::sync::mpsc;

use crate::feed::SourceMsg;

#[derive(Clone)]
pub enum Outbox {
    Async(mpsc::Sender<SourceMsg>),
    /// Sends by blocking this worker thread (`block_in_place`: the
    /// runtime moves its other tasks off it meanwhile), so it needs a
    /// multi-threaded runtime.
    Blocking(Arc<dyn Fn(SourceMsg) -> bool + Send + Sync>),
}

impl Outbox {
    /// A blocking consumer's channel, taking any message type a
    /// [`SourceMsg`] converts into.
    pub fn blocking<M: From<SourceMsg> + Send + 'static>(out: SyncSender<M>) -> Self {
        Self::Blocking(Arc::new(move |msg| out.send(msg.into()).is_ok()))
    }

    /// Sends `msg`; false when the consumer is gone.
    pub async fn send(&self, msg: SourceMsg) -> bool {
        match self {
            Self::Async(tx) => tx.send(msg).await.is_ok(),
            Self::Blocking(send) => tokio::task::block_in_place(|| send(msg)),
        }
    }

    /// Resolves when an async consumer is gone; a blocking one is found
    /// gone by the next send instead.
    pub async fn closed(&self) {
        match self {
            Self::Async(tx) => tx.closed().await,
            Self::Blocking(_) => std::future::pending().await,
        }
    }
}

impl From<mpsc::Sender<SourceMsg>> for Outbox {
    fn from(tx: mpsc::Sender<SourceMsg>) -> Self {
        Self::Async(tx)
    }
}
