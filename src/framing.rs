//! Message framing on a byte stream (chapter 12; chapters 13–16 build on it).
//!
//! Chapter 11 showed that TCP keeps no message boundaries. Framing puts them back, in one of
//! two ways here:
//!
//! - **Length-prefixed frames**: a 4-byte big-endian unsigned length, then that many bytes of
//!   payload. The same wire format as Python's `struct.pack('!I', len(payload)) + payload` and
//!   tokio-util's `LengthDelimitedCodec` with its defaults, so programs in either can talk to
//!   ours. Any bytes can be a payload.
//! - **Lines**: each message ends with `\n`. Readable with `nc`; a payload cannot contain `\n`.
//!
//! Both have a **maximum size**, checked *before* anything is allocated: a peer (or a bug) that
//! announces a 4 GiB frame gets an error after 4 bytes, not a 4 GiB allocation.
//!
//! Blocking code uses [`read_frame`] and [`write_frame`] ([`write_frame_within`] bounds the
//! whole frame's time, for a sender facing a peer that reads slowly); non-blocking code (chapters 07–08)
//! pushes whatever bytes arrived into a [`FrameDecoder`] and takes whole frames out.

use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The largest frame accepted unless configured otherwise: 8 MiB.
pub const DEFAULT_MAX_FRAME: usize = 8 * 1024 * 1024;

/// Length of the frame header: a `u32`, big-endian.
pub const HEADER_LEN: usize = 4;

// ANCHOR: write_frame
/// Writes one frame: the 4-byte big-endian length, then the payload, handed to the
/// socket as one buffer in one `write_all`.
///
/// One buffer matters. Two writes — the 4-byte header, then the payload — can meet
/// Nagle's algorithm on our side (the payload waits until the header is acknowledged)
/// and delayed ACK on the peer's (it holds the ACK back, hoping to piggyback it on a
/// reply that cannot come before the payload does): every small request then costs
/// tens of milliseconds. How long the peer holds it depends on its system: on Linux at
/// least 40 ms and at most 200 ms (`TCP_DELACK_MIN` and `TCP_DELACK_MAX` in the
/// kernel's `include/net/tcp.h`; 44 ms measured on loopback, chapter 12); on Windows
/// 200 ms by default (Microsoft's `TcpDelAckTicks` documentation).
pub fn write_frame(writer: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "a payload of {} bytes does not fit a 4-byte length",
                payload.len()
            ),
        )
    })?;
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    writer.write_all(&frame)
}
// ANCHOR_END: write_frame

// ANCHOR: write_frame_within
/// Writes one frame to `stream`, all of it within `limit` (chapter 15's sender). A
/// write timeout alone bounds each `write`: a peer that takes in a byte now and then
/// would hold the writer for ever (chapter 05's trickler, reading instead of
/// writing). So before each `write` the timeout is set to the time left for the whole
/// frame; past it, the error is `TimedOut`, "the peer took no frame in N s".
pub fn write_frame_within(
    mut stream: &TcpStream,
    payload: &[u8],
    limit: Duration,
) -> io::Result<()> {
    let mut frame = Vec::with_capacity(4 + payload.len());
    write_frame(&mut frame, payload)?;
    let deadline = Instant::now() + limit;
    let expired = || {
        let why = format!("the peer took no frame in {} s", limit.as_secs_f64());
        io::Error::new(ErrorKind::TimedOut, why)
    };
    let mut at = 0;
    while at < frame.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(expired());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(&frame[at..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => at += n,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            // A socket timeout is `WouldBlock` on Unix, `TimedOut` on Windows.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Err(expired());
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
// ANCHOR_END: write_frame_within

// ANCHOR: read_frame
/// Reads the next frame. `Ok(None)` is a clean end of the stream *between* frames; a
/// stream that ends inside a frame is an `UnexpectedEof` error, and a header
/// announcing more than `max` bytes is an `InvalidData` error — raised before anything
/// is allocated for it.
pub fn read_frame(reader: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    // 1. The header, by hand rather than with `read_exact`: zero bytes here is a clean
    //    end, one to three bytes is a stream cut inside a frame.
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match reader.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!(
                        "the stream ended inside a frame header ({got} of 4 bytes)"
                    ),
                ));
            }
            Ok(n) => got += n,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    // 2. The limit, before allocating.
    let len = u32::from_be_bytes(header) as usize;
    check_len(len, max)?;
    // 3. The payload: exactly `len` bytes, however many reads that takes.
    let mut payload = vec![0u8; len];
    reader
        .read_exact(&mut payload)
        .map_err(|err| match err.kind() {
            ErrorKind::UnexpectedEof => io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("the stream ended inside a frame of {len} bytes"),
            ),
            _ => err,
        })?;
    Ok(Some(payload))
}
// ANCHOR_END: read_frame

fn check_len(len: usize, max: usize) -> io::Result<()> {
    if len > max {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit of {max} bytes"),
        ));
    }
    Ok(())
}

// ANCHOR: decoder
/// An incremental frame decoder for non-blocking code: push in the bytes that arrived,
/// in pieces of any size, and take out every frame that is complete.
#[derive(Debug)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    max: usize,
}

impl FrameDecoder {
    /// A decoder that refuses frames over `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buffer: Vec::new(),
            max,
        }
    }

    /// Adds bytes received from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed first, or an error
    /// for a header over the limit (known as soon as its 4 bytes are in).
    pub fn next_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let Some(header) = self.buffer.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*header) as usize;
        check_len(len, self.max)?;
        if self.buffer.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = self.buffer[HEADER_LEN..HEADER_LEN + len].to_vec();
        // Moving the rest to the front costs a copy of what is left, which stays small
        // when frames are taken out as they complete.
        self.buffer.drain(..HEADER_LEN + len);
        Ok(Some(payload))
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Call at the end of the stream: an error if it ended inside a frame.
    pub fn finish(&self) -> io::Result<()> {
        match self.buffer.len() {
            0 => Ok(()),
            n => Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("the stream ended inside a frame ({n} bytes of it received)"),
            )),
        }
    }
}
// ANCHOR_END: decoder

// ANCHOR: lines
/// Reads the next line (without its `\n`, and without a `\r` before it). `Ok(None)` at
/// a clean end of the stream; a line over `max` bytes is an `InvalidData` error after
/// reading at most `max + 1` bytes of it; a last line without `\n` is an
/// `UnexpectedEof` error.
pub fn read_line_frame(
    reader: &mut impl BufRead,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    // `take` caps this one line; `BufRead::lines` has no cap at all (chapter 05).
    let n = reader
        .take((max as u64).saturating_add(1))
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        return Err(if n > max {
            io::Error::new(
                ErrorKind::InvalidData,
                format!("a line is over the limit of {max} bytes"),
            )
        } else {
            io::Error::new(ErrorKind::UnexpectedEof, "the stream ended inside a line")
        });
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Writes `payload` and a `\n`, in one `write_all`. A payload containing `\n` would
/// become two lines on the other side, so it is refused.
pub fn write_line_frame(writer: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    if payload.contains(&b'\n') {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "a line frame cannot contain a newline",
        ));
    }
    let mut line = Vec::with_capacity(payload.len() + 1);
    line.extend_from_slice(payload);
    line.push(b'\n');
    writer.write_all(&line)
}
// ANCHOR_END: lines

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::io::Cursor;

    fn encode(payloads: &[&[u8]]) -> Vec<u8> {
        let mut stream = Vec::new();
        for payload in payloads {
            write_frame(&mut stream, payload).unwrap();
        }
        stream
    }

    fn read_all(reader: &mut impl Read) -> io::Result<Vec<Vec<u8>>> {
        let mut frames = Vec::new();
        while let Some(frame) = read_frame(reader, DEFAULT_MAX_FRAME)? {
            frames.push(frame);
        }
        Ok(frames)
    }

    /// A reader that hands out its bytes in the given chunk sizes, one chunk per call, and an
    /// `Interrupted` error before every other chunk.
    struct Chunked {
        data: Vec<u8>,
        at: usize,
        chunks: Vec<usize>,
        interrupt: bool,
    }

    impl Read for Chunked {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::Error::from(ErrorKind::Interrupted));
            }
            let want = self.chunks.pop().unwrap_or(usize::MAX);
            let n = want.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn a_line_cap_of_usize_max_is_no_cap_not_an_overflow() {
        let mut reader = io::Cursor::new(b"hi\n".to_vec());
        let line = read_line_frame(&mut reader, usize::MAX).unwrap();
        assert_eq!(line.as_deref(), Some(&b"hi"[..]));
    }

    #[test]
    fn round_trips_including_an_empty_frame() {
        let payloads: [&[u8]; 4] = [b"hello", b"", &[0, 1, 2, 255], &[7; 70_000]];
        let stream = encode(&payloads);
        assert_eq!(&stream[..9], &[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
        let frames = read_all(&mut Cursor::new(stream)).unwrap();
        assert_eq!(frames, payloads.map(<[u8]>::to_vec));
    }

    #[test]
    fn a_three_frame_stream_split_at_every_byte_offset() {
        let payloads: [&[u8]; 3] = [b"first", b"", b"the third frame"];
        let stream = encode(&payloads);
        for cut in 0..=stream.len() {
            let mut decoder = FrameDecoder::new(64);
            let mut frames = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                decoder.push(part);
                while let Some(frame) = decoder.next_frame().unwrap() {
                    frames.push(frame);
                }
            }
            decoder.finish().unwrap();
            assert_eq!(frames, payloads.map(<[u8]>::to_vec), "cut at {cut}");
        }
    }

    #[test]
    fn ten_thousand_random_chunkings_decode_the_same() {
        let seed: u64 = std::env::var("TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(12);
        let mut rng = StdRng::seed_from_u64(seed);
        let payloads: Vec<Vec<u8>> = (0..20)
            .map(|i| {
                (0..rng.random_range(0..300))
                    .map(|k| (i * 31 + k) as u8)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let stream = encode(&refs);
        for round in 0..10_000 {
            let mut decoder = FrameDecoder::new(1024);
            let mut frames = Vec::new();
            let mut at = 0;
            while at < stream.len() {
                let n = rng.random_range(1..=16).min(stream.len() - at);
                decoder.push(&stream[at..at + n]);
                at += n;
                while let Some(frame) = decoder.next_frame().unwrap() {
                    frames.push(frame);
                }
            }
            assert_eq!(frames, payloads, "seed {seed}, round {round}");
        }
        // The blocking reader, through a reader that returns random chunks and Interrupted.
        for _ in 0..200 {
            let chunks = (0..stream.len()).map(|_| rng.random_range(1..=9)).collect();
            let mut reader = Chunked {
                data: stream.clone(),
                at: 0,
                chunks,
                interrupt: false,
            };
            assert_eq!(read_all(&mut reader).unwrap(), payloads, "seed {seed}");
        }
    }

    #[test]
    fn a_huge_header_is_an_error_after_four_bytes() {
        // Only the header is there: reading any further would be a bug (and would hit EOF).
        let err = read_frame(&mut Cursor::new(vec![0xFF; 4]), DEFAULT_MAX_FRAME)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            "a frame of 4294967295 bytes is over the limit of 8388608 bytes"
        );
        let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME);
        decoder.push(&[0xFF; 4]);
        assert_eq!(
            decoder.next_frame().unwrap_err().kind(),
            ErrorKind::InvalidData
        );
    }

    #[test]
    fn the_limit_itself_is_allowed() {
        let stream = encode(&[&[1; 100]]);
        assert_eq!(
            read_frame(&mut Cursor::new(&stream), 100)
                .unwrap()
                .unwrap()
                .len(),
            100
        );
        assert!(read_frame(&mut Cursor::new(&stream), 99).is_err());
    }

    #[test]
    fn truncated_headers_and_payloads_are_unexpected_eof() {
        let stream = encode(&[b"payload"]);
        for cut in 1..stream.len() {
            let err = read_frame(&mut Cursor::new(&stream[..cut]), 64).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "cut at {cut}");
        }
        assert_eq!(
            read_frame(&mut Cursor::new(&stream[..2]), 64)
                .unwrap_err()
                .to_string(),
            "the stream ended inside a frame header (2 of 4 bytes)"
        );
        assert_eq!(
            read_frame(&mut Cursor::new(&stream[..6]), 64)
                .unwrap_err()
                .to_string(),
            "the stream ended inside a frame of 7 bytes"
        );
        let mut decoder = FrameDecoder::new(64);
        decoder.push(&stream[..6]);
        assert!(decoder.next_frame().unwrap().is_none());
        assert_eq!(
            decoder.finish().unwrap_err().kind(),
            ErrorKind::UnexpectedEof
        );
        // And an empty stream is a clean end.
        assert!(read_frame(&mut Cursor::new(&[]), 64).unwrap().is_none());
    }

    #[test]
    fn a_writer_that_takes_four_bytes_at_a_time_still_gets_whole_frames() {
        struct Stingy(Vec<u8>);
        impl Write for Stingy {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(4);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut writer = Stingy(Vec::new());
        write_frame(&mut writer, b"eleven byte").unwrap();
        write_frame(&mut writer, b"").unwrap();
        let frames = read_all(&mut Cursor::new(writer.0)).unwrap();
        assert_eq!(frames, [b"eleven byte".to_vec(), Vec::new()]);
    }

    #[test]
    fn lines_round_trip_with_a_cap() {
        let mut stream = Vec::new();
        write_line_frame(&mut stream, b"one").unwrap();
        write_line_frame(&mut stream, b"").unwrap();
        stream.extend_from_slice(b"crlf\r\n");
        assert!(write_line_frame(&mut stream, b"two\nlines").is_err());
        let mut reader = Cursor::new(stream);
        for expected in [&b"one"[..], b"", b"crlf"] {
            assert_eq!(read_line_frame(&mut reader, 8).unwrap().unwrap(), expected);
        }
        assert!(read_line_frame(&mut reader, 8).unwrap().is_none());

        let long = read_line_frame(&mut Cursor::new(vec![b'x'; 100]), 8).unwrap_err();
        assert_eq!(long.kind(), ErrorKind::InvalidData);
        let cut =
            read_line_frame(&mut Cursor::new(b"no newline".to_vec()), 64).unwrap_err();
        assert_eq!(cut.kind(), ErrorKind::UnexpectedEof);
    }
}
