//! The echo loop of chapters 01 and 03, as the later servers reuse it.
//!
//! Read what has arrived, write it back, until the client closes — with the two things a server
//! that runs for a long time adds to chapter 01's loop: a Ctrl-C shutdown wakes it and ends the
//! connection in an orderly way (the stream is [watched](crate::shutdown::Shutdown::watch_owned),
//! then [closed gracefully](crate::shutdown::close_gracefully)), and a read timeout set by the caller
//! ends a client that stays silent too long (chapter 04's `--idle-timeout`).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

use anyhow::Context;

use crate::shutdown::Shutdown;

/// Why an echo session ended, when it ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client closed its side: `read` returned 0.
    Closed,
    /// The server is shutting down: reading stopped, the reply in flight was sent, then the
    /// end of the stream (see [`close_gracefully`](crate::shutdown::close_gracefully)).
    ShuttingDown,
    /// The client sent nothing for as long as the stream's read timeout.
    Idle,
}

// ANCHOR: buffers
/// The echo buffer a client starts with: room for a typical request, and all
/// that a client that sends little ever costs.
pub const FIRST_BUFFER: usize = 4 * 1024;

/// The echo buffer of a client that streams (one `read` filled `FIRST_BUFFER`).
/// Every `read` and every `write` is a system call, with a cost per call on top of
/// the bytes it copies: up to sixty-four times the bytes per call, as little as a
/// sixty-fourth of that cost per byte. (Chapter 04 measured 4, 64 and 256 KiB.)
pub const STREAM_BUFFER: usize = 256 * 1024;
// ANCHOR_END: buffers

// ANCHOR: serve
/// Echoes everything `peer` sends until it closes, shutdown begins, or it stays silent
/// for as long as the stream's read timeout (if one is set). Returns how many bytes
/// were echoed, and why it stopped.
pub fn serve_echo(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
) -> anyhow::Result<(u64, End)> {
    // From now on a Ctrl-C makes our blocked `read` return 0 (end of stream). The
    // helper shares the socket with us (no second descriptor), and lets go when
    // `stream` is dropped.
    let mut stream = shutdown.watch_owned(stream);

    // The buffer starts small and on the heap: a client that sends little (a request,
    // a line) never needs more, and a thousand idle clients cost a thousand small
    // buffers. A `read` that fills it shows a client that streams: it gets
    // `STREAM_BUFFER`, so each `read`/`write` pair moves up to 256 KiB (chapter 04
    // measures what that saves) — but only while bytes are waiting. The big buffer's
    // reads never wait: once nothing is waiting, the buffer shrinks back before the
    // next `read` blocks, so a client that sent one big message and went quiet costs
    // a small buffer again, not 256 KiB for ever.
    let mut buf = vec![0u8; FIRST_BUFFER];
    let mut echoed: u64 = 0;
    loop {
        // Shutting down: no more echoing. The echo in flight was written in full; now
        // a FIN, and what the client still sends is read and dropped for a moment, so
        // that it sees an orderly end of stream instead of a reset (see
        // `close_gracefully`). A busy client gets here at its next message; a silent
        // one when the helper wakes our `read`.
        if shutdown.is_triggered() {
            stream.close_gracefully();
            return Ok((echoed, End::ShuttingDown));
        }
        let streaming = buf.len() == STREAM_BUFFER;
        if streaming {
            stream.set_nonblocking(true)?; // take what is waiting, never wait
        }
        let read = stream.read(&mut buf);
        if streaming {
            stream.set_nonblocking(false)?;
        }
        let n = match read {
            // Streaming, and nothing is waiting: the client paused, or stopped. Give
            // the big buffer back, and wait with the small one.
            Err(err) if streaming && err.kind() == ErrorKind::WouldBlock => {
                buf = vec![0u8; FIRST_BUFFER];
                continue;
            }
            // Woken by the helper: see above.
            Ok(0) if shutdown.is_triggered() => continue,
            Ok(0) => return Ok((echoed, End::Closed)),
            Ok(n) => n,
            // A signal arrived while we waited. With a read timeout set (04), the
            // kernel does not restart the call and std's `read` does not retry: just
            // read again.
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            // The read timeout expired: on Unix it is reported as `WouldBlock`, on
            // Windows as `TimedOut`. Not an error of the client's: it was just quiet
            // for too long.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Ok((echoed, End::Idle));
            }
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read from {peer}"));
            }
        };
        stream
            .write_all(&buf[..n])
            .with_context(|| format!("cannot write to {peer}"))?;
        echoed += n as u64;
        if n == buf.len() && !streaming {
            // More is probably waiting: a client that streams.
            buf.resize(STREAM_BUFFER, 0);
        }
    }
}
// ANCHOR_END: serve

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;
    use std::time::Duration;

    fn served(
        read_timeout: Option<Duration>,
        client: impl FnOnce(TcpStream) + Send + 'static,
    ) -> (u64, End) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let talker = thread::spawn(move || {
            let stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            client(stream);
        });
        let (stream, peer) = listener.accept().unwrap();
        stream.set_read_timeout(read_timeout).unwrap();
        let result = serve_echo(stream, peer, &Shutdown::new()).unwrap();
        talker.join().unwrap();
        result
    }

    #[test]
    fn echoes_until_the_client_closes() {
        let result = served(None, |mut stream| {
            stream.write_all(b"ping").unwrap();
            let mut back = [0u8; 4];
            stream.read_exact(&mut back).unwrap();
            assert_eq!(&back, b"ping");
        });
        assert_eq!(result, (4, End::Closed));
    }

    #[test]
    fn a_stream_in_bursts_with_pauses_echoes_intact() {
        let result = served(Some(Duration::from_secs(5)), |mut stream| {
            let message: Vec<u8> =
                (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
            for _ in 0..3 {
                let mut reader = stream.try_clone().unwrap();
                let expected = message.clone();
                let echo = thread::spawn(move || {
                    let mut back = vec![0u8; expected.len()];
                    reader.read_exact(&mut back).unwrap();
                    assert!(back == expected, "the echo differs");
                });
                stream.write_all(&message).unwrap();
                echo.join().unwrap();
                thread::sleep(Duration::from_millis(50)); // a pause: the buffer shrinks
            }
        });
        assert_eq!(result, (3_000_000, End::Closed));
    }

    #[test]
    fn a_silent_client_ends_as_idle_after_the_read_timeout() {
        let result = served(Some(Duration::from_millis(100)), |mut stream| {
            // Wait for the server to give up on us: our read sees its close.
            assert_eq!(stream.read(&mut [0u8; 8]).unwrap(), 0);
        });
        assert_eq!(result, (0, End::Idle));
    }
}
