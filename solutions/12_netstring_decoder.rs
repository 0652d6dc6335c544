//! # Exercise 12 · an incremental netstring decoder (chapter 12)
//!
//! Chapter 12 frames messages with a fixed 4-byte length. Netstrings (D. J. Bernstein,
//! <https://cr.yp.to/proto/netstrings.txt>) frame them with a length in *decimal digits*, so the
//! header itself has no fixed size: `5:hello,` is the message `hello`, `0:,` the empty one. This
//! server reads netstrings from one client at a time and answers each message with a line,
//! `LEN PAYLOAD`. The reads, the buffer and the replies are written; the decoder's heart is not:
//! **write `NetstringDecoder::next_message`** below. It is fed whatever bytes `read` returned,
//! which may end anywhere: inside the digits, before the `:`, inside the payload, before the `,`.
//!
//! Try it by hand (two terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex12_netstring_decoder
//! terminal 2:  printf '5:hello,3:a,b,' | nc 127.0.0.1 7878     (prints `5 hello` and `3 a,b`)
//! ```
//!
//! Check it (the checker cuts a stream of netstrings at every byte offset, over real sockets):
//!
//! ```text
//! cargo run --bin check -- 12_netstring_decoder
//! ```

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Netstring server: answers every netstring `LEN:PAYLOAD,` with a line `LEN PAYLOAD`.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
}

/// The longest payload accepted: a peer announcing more is refused before it sends it.
const MAX_PAYLOAD: usize = 64 * 1024;
/// The most digits a length may have: `65536` has 5; more can only be a bad header.
const MAX_DIGITS: usize = 5;

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;
    // One client at a time (chapter 03's loop): the decoder, not concurrency, is the lesson.
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let peer = stream
            .peer_addr()
            .map_or("?".to_string(), |p| p.to_string());
        println!("connected: {peer}");
        // A per-client error (a bad netstring, a silent client) ends that client, not the server.
        match serve(stream) {
            Ok(count) => println!("disconnected: {peer} ({count} messages)"),
            Err(err) => println!("dropped: {peer}: {err}"),
        }
    }
    Ok(())
}

/// Feeds everything the client sends to a decoder and answers each whole message.
fn serve(mut stream: TcpStream) -> io::Result<u64> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut decoder = NetstringDecoder::default();
    let mut buf = [0u8; 4096];
    let mut count = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) if decoder.buffered() == 0 => return Ok(count),
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "cut inside a message",
                ));
            }
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        decoder.push(&buf[..n]);
        // One read may have completed several messages, or none: take out all there are.
        loop {
            match decoder.next_message() {
                Ok(Some(payload)) => {
                    let mut line = format!("{} ", payload.len()).into_bytes();
                    line.extend_from_slice(&payload);
                    line.push(b'\n');
                    stream.write_all(&line)?;
                    count += 1;
                }
                Ok(None) => break, // not a whole message yet: read more
                Err(err) => {
                    // Tell the client why, then hang up: after a bad header, nothing that
                    // follows can be trusted to start a message.
                    let _ = stream.write_all(format!("error: {err}\n").as_bytes());
                    return Err(err);
                }
            }
        }
    }
}

/// Bytes received and not yet taken out as messages.
#[derive(Default)]
struct NetstringDecoder {
    buf: Vec<u8>,
}

impl NetstringDecoder {
    /// Appends what one `read` returned.
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How many bytes wait in the buffer (a stream that ends with some is cut mid-message).
    fn buffered(&self) -> usize {
        self.buf.len()
    }

    // ============================== YOUR PART ==============================
    /// Takes the first whole netstring out of the buffer and returns its payload.
    ///
    /// Given: `self.buf`, every byte received and not yet taken out, starting at the first byte
    /// of a netstring: `DIGITS:PAYLOAD,`, where DIGITS is the payload's length in decimal.
    ///
    /// Must hold:
    /// 1. `Ok(Some(payload))` once the *whole* netstring is in the buffer, the trailing `,`
    ///    included; those bytes are then removed, and the next call starts at the next netstring;
    /// 2. `Ok(None)`, the buffer untouched, while it holds only a beginning: some digits, the
    ///    digits and `:`, part of the payload, the payload without its `,`. The bytes can stop
    ///    anywhere, and the checker stops them everywhere;
    /// 3. a byte other than a digit where the length is (a sign `+5:`, a letter `ab`, a
    ///    space) is refused as soon as it is in the buffer, without waiting for a `:`: an
    ///    error of kind `ErrorKind::InvalidData` (`io::Error::new(ErrorKind::InvalidData,
    ///    "…")`), as for every refusal below;
    /// 4. a header without a digit (`:` first, as in `:,`) is refused;
    /// 5. a length has at most `MAX_DIGITS` digits: `MAX_DIGITS` digits and no `:` yet is only a
    ///    beginning, but a `MAX_DIGITS + 1`st byte that is not `:` is refused at once;
    /// 6. a length of exactly `MAX_PAYLOAD` is a payload like any other; a length above it is
    ///    refused as soon as its `:` is in, before any of the payload arrives;
    /// 7. a byte other than `,` after the payload is refused as soon as it is in;
    /// 8. the payload may hold any bytes, `:` and `,` and digits included: its length, not a
    ///    search for `,`, says where it ends.
    ///
    /// Hints, one at a time:
    /// 1. Find the `:` among the first `MAX_DIGITS + 1` bytes
    ///    (`self.buf.iter().position(|&b| b == b':')`); no `:` yet is not an error by itself.
    /// 2. With `colon` its index, the netstring is `colon + 1 + len + 1` bytes long: wait until
    ///    the buffer holds that many, then check the byte at `colon + 1 + len` is `,`.
    /// 3. `let frame: Vec<u8> = self.buf.drain(..total).collect();` takes it out; the payload
    ///    is `frame[colon + 1..total - 1]`.
    fn next_message(&mut self) -> io::Result<Option<Vec<u8>>> {
        let invalid = |what: String| io::Error::new(ErrorKind::InvalidData, what);
        // 1. The header: digits, then `:`. Look no further than the longest header can be, so
        //    that a peer sending digits forever is refused after MAX_DIGITS + 1 bytes.
        let head = &self.buf[..self.buf.len().min(MAX_DIGITS + 1)];
        let colon = match head.iter().position(|&b| b == b':') {
            Some(colon) => colon,
            None => {
                // No `:` yet: fine while every byte so far is a digit and there is room for more.
                if let Some(&bad) = head.iter().find(|b| !b.is_ascii_digit()) {
                    return Err(invalid(format!("{:?} in the length", bad as char)));
                }
                if head.len() > MAX_DIGITS {
                    return Err(invalid(format!(
                        "a length of more than {MAX_DIGITS} digits"
                    )));
                }
                return Ok(None);
            }
        };
        let digits = &self.buf[..colon];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(invalid(format!(
                "bad length {:?}",
                String::from_utf8_lossy(digits)
            )));
        }
        // Only ASCII digits, at most MAX_DIGITS of them: this parse cannot overflow.
        let len: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| invalid("bad length".to_string()))?;
        if len > MAX_PAYLOAD {
            return Err(invalid(format!(
                "{len} bytes announced, at most {MAX_PAYLOAD}"
            )));
        }
        // 2. The whole netstring: header, payload, and the `,` after it.
        let total = colon + 1 + len + 1;
        if self.buf.len() < total {
            return Ok(None);
        }
        if self.buf[total - 1] != b',' {
            return Err(invalid("no `,` after the payload".to_string()));
        }
        // 3. Take it out: the next call starts at the next netstring.
        let frame: Vec<u8> = self.buf.drain(..total).collect();
        Ok(Some(frame[colon + 1..total - 1].to_vec()))
    }
    // ============================ END OF YOUR PART ============================
}
