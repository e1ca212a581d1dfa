//! MQTT over WebSocket (MQTT 5.0 §6): a byte-stream view of a WebSocket connection, so the
//! connection task serves it like any socket.
//!
//! The HTTP layer owns the WebSocket handshake (path `/mqtt`, sub-protocol `mqtt`
//! [MQTT-6.0.0-3]) and hands over the upgraded connection as a stream of binary message payloads
//! and a sink for them; a text frame or any other non-binary data is an error that closes the
//! connection [MQTT-6.0.0-1]. MQTT packets may span or share WebSocket frames [MQTT-6.0.0-2], which
//! reading as a byte stream handles.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A WebSocket connection seen as bytes: reads concatenate binary messages, each write sends one
/// binary message.
#[derive(Debug)]
pub struct WebSocketBytes<S> {
    inner: S,
    pending: Bytes,
}

impl<S> WebSocketBytes<S> {
    /// Wraps a stream of binary message payloads that is also a sink for them.
    pub fn new(inner: S) -> Self {
        WebSocketBytes {
            inner,
            pending: Bytes::new(),
        }
    }
}

impl<S> AsyncRead for WebSocketBytes<S>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pending.is_empty() {
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                Some(Ok(message)) => self.pending = message,
                Some(Err(error)) => return Poll::Ready(Err(error)),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..n]);
        self.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S> AsyncWrite for WebSocketBytes<S>
where
    S: Sink<Bytes, Error = io::Error> + Unpin,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.inner).poll_ready(cx))?;
        Pin::new(&mut self.inner).start_send(Bytes::copy_from_slice(buf))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}
