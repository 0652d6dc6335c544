//! # Exercise 20 · a WebSocket frame decoder (chapter 20)
//!
//! Chapter 20 reads a client's frames with blocking `read_exact` calls. A server that serves
//! many connections on one thread (chapters 07, 08, 18) cannot block: it is handed whatever
//! bytes `read` returned, which may end anywhere — inside the two first bytes, inside the 16- or
//! 64-bit length, inside the masking key, inside the payload. This server reads client frames
//! (RFC 6455 §5.2) from the first byte of the connection — the HTTP handshake is left out, so
//! you can try it with `printf` and `nc` — and answers each frame with one line,
//! `FIN OPCODE LENGTH PAYLOAD-IN-HEX`. The reads, the buffer and the replies are written; the
//! decoder is not: **write `FrameDecoder::next_frame`** below.
//!
//! Try it by hand (two terminals). The frame below is a masked text frame, `hi`, with the
//! masking key `01 02 03 04`: `h` (0x68) XOR 0x01 is 0x69, `i` (0x69) XOR 0x02 is 0x6b.
//!
//! ```text
//! terminal 1:  cargo run --example ex20_frame_decoder
//! terminal 2:  printf '\x81\x82\x01\x02\x03\x04\x69\x6b' | nc 127.0.0.1 7878
//!              (prints `1 1 2 6869`: FIN, opcode 1 (text), 2 bytes, "hi")
//! ```
//!
//! Check it (the checker cuts frames at every byte offset, over real sockets):
//!
//! ```text
//! cargo run --bin check -- 20_frame_decoder
//! ```

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::cli;

/// Frame decoder server: answers every client frame with a line `FIN OPCODE LENGTH HEX`.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
}

/// The longest payload accepted: a frame announcing more is refused as soon as its length is
/// known, before its payload arrives, and before anything is allocated for it.
const MAX_PAYLOAD: u64 = 64 * 1024;

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
        match serve(stream) {
            Ok(count) => println!("disconnected: {peer} ({count} frames)"),
            Err(err) => println!("dropped: {peer}: {err}"),
        }
    }
    Ok(())
}

/// Feeds everything the client sends to a decoder and answers each whole frame.
fn serve(mut stream: TcpStream) -> io::Result<u64> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut decoder = FrameDecoder::default();
    let mut buf = [0u8; 4096];
    let mut count = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) if decoder.buffered() == 0 => return Ok(count),
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "cut inside a frame",
                ));
            }
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        decoder.push(&buf[..n]);
        // One read may have completed several frames, or none: take out all there are.
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let hex: String =
                        frame.payload.iter().map(|b| format!("{b:02x}")).collect();
                    let line = format!(
                        "{} {} {} {hex}\n",
                        u8::from(frame.fin),
                        frame.opcode,
                        frame.payload.len()
                    );
                    stream.write_all(line.as_bytes())?;
                    count += 1;
                }
                Ok(None) => break, // not a whole frame yet: read more
                Err(err) => {
                    // Tell the client why, then hang up (a WebSocket server would send a close
                    // frame, 1002 or 1009): after a bad header nothing that follows can be
                    // trusted to start a frame.
                    let _ = stream.write_all(format!("error: {err}\n").as_bytes());
                    return Err(err);
                }
            }
        }
    }
}

/// One frame, as the client meant it: the payload unmasked.
struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// Bytes received and not yet taken out as frames.
#[derive(Default)]
struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    /// Appends what one `read` returned.
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How many bytes wait in the buffer (a stream that ends with some is cut mid-frame).
    fn buffered(&self) -> usize {
        self.buf.len()
    }

    // ============================== YOUR PART ==============================
    /// Takes the first whole client frame out of the buffer, unmasked.
    ///
    /// Given: `self.buf`, every byte received and not yet taken out, starting at the first
    /// byte of a frame (chapter 20, "Frames"):
    /// byte 0 is FIN (top bit) and the opcode (low 4 bits); byte 1 is MASK (top bit) and a
    /// 7-bit length: 0–125 is the length, 126 means the next 2 bytes are the length, 127 the
    /// next 8 (both big-endian); then the 4-byte masking key; then the payload, each byte
    /// XORed with key byte `i % 4`.
    ///
    /// Must hold:
    /// 1. `Ok(Some(frame))` once the whole frame is in the buffer, with `fin`, `opcode` and
    ///    the payload *unmasked*; its bytes are removed, and the next call starts at the next
    ///    frame.
    /// 2. `Ok(None)`, the buffer untouched, while the buffer holds only a beginning: the bytes
    ///    can stop anywhere (inside the extended length, the key, the payload), and the
    ///    checker stops them everywhere.
    /// 3. All three length forms: 7-bit, 126 + 16-bit, 127 + 64-bit, big-endian.
    /// 4. An `ErrorKind::InvalidData` error (`io::Error::new(ErrorKind::InvalidData, "…")`)
    ///    as soon as byte 1 is in, for an unmasked frame: a client MUST mask (RFC 6455 §5.1).
    /// 5. An `ErrorKind::InvalidData` error as soon as the length is known, for a length over
    ///    `MAX_PAYLOAD` (exactly `MAX_PAYLOAD` is fine): do not wait for the payload, and do
    ///    not allocate for it.
    ///
    /// Hints, one at a time:
    /// 1. Work out the header's size first: 2 bytes, plus 0, 2 or 8 for the length, plus 4
    ///    for the key. Until that many bytes are in, only checks 4 (and 5, once the length's
    ///    bytes are in) can say anything.
    /// 2. `u16::from_be_bytes(self.buf[2..4].try_into().unwrap())`, and the same with `u64`
    ///    and `[2..10]`.
    /// 3. With `header` and `len`, the frame is `header + len` bytes:
    ///    `let frame: Vec<u8> = self.buf.drain(..header + len).collect();`, then unmask
    ///    `frame[header..]` with `frame[header - 4..header]`.
    fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        let Some(&[first, second]) =
            self.buf.get(..2).map(|b| <&[u8; 2]>::try_from(b).unwrap())
        else {
            return Ok(None);
        };
        if second & 0x80 == 0 {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                "a client frame must be masked",
            ));
        }
        let (len, key_at) = match second & 0x7F {
            126 => match self.buf.get(2..4) {
                Some(bytes) => {
                    (u64::from(u16::from_be_bytes(bytes.try_into().unwrap())), 4)
                }
                None => return Ok(None),
            },
            127 => match self.buf.get(2..10) {
                Some(bytes) => (u64::from_be_bytes(bytes.try_into().unwrap()), 10),
                None => return Ok(None),
            },
            short => (u64::from(short), 2),
        };
        if len > MAX_PAYLOAD {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("a frame of {len} bytes, over the limit of {MAX_PAYLOAD}"),
            ));
        }
        let header = key_at + 4;
        let total = header + len as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame: Vec<u8> = self.buf.drain(..total).collect();
        let key = &frame[key_at..header];
        let payload = frame[header..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        Ok(Some(Frame::new(first & 0x80 != 0, first & 0x0F, payload)))
    }
    // ============================ END OF YOUR PART ============================
}

impl Frame {
    fn new(fin: bool, opcode: u8, payload: Vec<u8>) -> Frame {
        Frame {
            fin,
            opcode,
            payload,
        }
    }
}
