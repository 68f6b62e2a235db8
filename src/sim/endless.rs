//! The body of a hostile endpoint's answer that never ends: the start of a
//! `LookupEvents` page, then one event's text that goes on and on. It costs
//! the simulator one shared chunk, however long the client keeps reading.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, SizeHint};

const CHUNK: usize = 64 << 10;
/// Far past any client's patience; a bound only so the type is finite.
const TOTAL_CHUNKS: u64 = 1 << 20;

pub struct Endless {
    sent: u64,
    chunk: Bytes,
}

impl Endless {
    pub fn new() -> Self {
        Self {
            sent: 0,
            chunk: Bytes::from(vec![b'a'; CHUNK]),
        }
    }
}

impl Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match self.sent {
            0 => Bytes::from_static(b"{\"Events\":[{\"EventId\":\"1\",\"CloudTrailEvent\":\""),
            n if n > TOTAL_CHUNKS => return Poll::Ready(None),
            _ => self.chunk.clone(),
        };
        self.sent += 1;
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn size_hint(&self) -> SizeHint {
        // No length: the answer goes out chunked, as a stream does, so a
        // client cannot refuse it by its header alone.
        SizeHint::default()
    }
}
