//! 20_frame_decoder: an incremental decoder of WebSocket client frames (RFC 6455 §5.2), fed
//! whatever each read returned: masking, the three length forms, the limit before the payload.

use std::io::Write;
use std::net::{Shutdown, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "20_frame_decoder",
    chapter: "20-websocket-chat.md",
    task: "an incremental WebSocket frame decoder: masking, three length forms, a limit",
    write: "`FrameDecoder::next_frame`",
    checks: &[
        Check {
            name: "four masked frames in one write (text, an empty one, a first fragment, \
                   binary): four lines, unmasked",
            holds: &[1],
            run: four_in_one_write,
        },
        Check {
            name: "the same frames cut in two at every byte offset: the same four lines each time",
            holds: &[2],
            run: every_split,
        },
        Check {
            name: "the same frames one byte at a time: the same four lines",
            holds: &[2],
            run: byte_by_byte,
        },
        Check {
            name: "lengths 125, 126 and 65535 (7- and 16-bit forms) and exactly the limit, \
                   65536 (64-bit form), the header cut inside its length and key: each payload whole",
            holds: &[2, 3, 5],
            run: length_forms,
        },
        Check {
            name: "an unmasked frame: refused once its two first bytes are in",
            holds: &[4],
            run: unmasked,
        },
        Check {
            name: "frames announcing 65537 and 2^40 bytes: refused once the length is in, \
                   with no payload sent",
            holds: &[5],
            run: over_the_limit,
        },
    ],
};

/// A client frame: FIN and opcode, the length in its shortest form, a masking key, the payload
/// masked with it.
fn frame(fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut bytes = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        len @ 0..=125 => bytes.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            bytes.push(0x80 | 126);
            bytes.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            bytes.push(0x80 | 127);
            bytes.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    bytes.extend_from_slice(&key);
    bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The line the server answers for a frame.
fn line(fin: bool, opcode: u8, payload: &[u8]) -> String {
    format!(
        "{} {opcode} {} {}\n",
        u8::from(fin),
        payload.len(),
        hex(payload)
    )
}

/// The frames the checks send, and the lines they must bring back: the masking keys differ
/// per frame (a decoder that reuses the first key, or skips the XOR, shows), and the binary
/// payload holds bytes that look like headers.
fn stream() -> (Vec<u8>, String) {
    let frames: [(bool, u8, &[u8], [u8; 4]); 4] = [
        (true, 1, b"Hello, WebSocket", [0x37, 0xfa, 0x21, 0x3d]),
        (true, 1, b"", [1, 2, 3, 4]),
        (false, 1, b"first fragment", [0xff, 0x00, 0x80, 0x7f]),
        (
            true,
            2,
            &[0x81, 0xfe, 0x7f, 0, 0x88, 126, 127],
            [9, 8, 7, 6],
        ),
    ];
    let mut bytes = Vec::new();
    let mut lines = String::new();
    for (fin, opcode, payload, key) in frames {
        bytes.extend(frame(fin, opcode, payload, key));
        lines.push_str(&line(fin, opcode, payload));
    }
    (bytes, lines)
}

/// Sends `pieces` (a pause before each but the first), half-closes, reads the reply to the end.
fn exchange(
    addr: SocketAddr,
    pieces: &[&[u8]],
    pause: Duration,
) -> Result<(Vec<u8>, End), Fail> {
    let mut stream = connect(addr)?;
    // Every write its own segment, so that the server can see a piece alone.
    let _ = stream.set_nodelay(true);
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            thread::sleep(pause);
        }
        if stream.write_all(piece).is_err() {
            break; // the server hung up; what it said is read below
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    Ok(read_to_end(&mut stream, WAIT))
}

fn expect_lines(
    got: &[u8],
    end: &End,
    want: &str,
    what: &str,
    hint: &str,
) -> Result<(), Fail> {
    if got == want.as_bytes() && *end == End::Closed {
        return Ok(());
    }
    Err(fail(
        format!("{}, then the end of the stream", show(want.as_bytes())),
        format!("{} ({end:?}) {what}", show(got)),
        hint,
    ))
}

fn four_in_one_write(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let (bytes, want) = stream();
    let (got, end) = exchange(addr, &[&bytes], Duration::ZERO)?;
    expect_lines(
        &got,
        &end,
        &want,
        "for one write of four frames",
        "take out exactly one frame's bytes (header + payload), so that the next call starts \
         at the next frame; unmask byte i with key byte i % 4, where the key is the 4 bytes \
         before the payload",
    )
}

fn every_split(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let (bytes, want) = stream();
    for at in 1..bytes.len() {
        let (first, rest) = bytes.split_at(at);
        let (got, end) = exchange(addr, &[first, rest], Duration::from_millis(25))?;
        expect_lines(
            &got,
            &end,
            &want,
            &format!("when the frames were cut after byte {at}"),
            "a buffer that ends before the frame does is not an error: return `Ok(None)` and \
             wait for more (inside the extended length, the key or the payload)",
        )?;
    }
    Ok(())
}

fn byte_by_byte(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let (bytes, want) = stream();
    let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
    let (got, end) = exchange(addr, &pieces, Duration::from_millis(5))?;
    expect_lines(
        &got,
        &end,
        &want,
        "when the frames came one byte at a time",
        "every call may see one byte more than the last: `Ok(None)` until the whole header, \
         then the whole payload, is in",
    )
}

fn length_forms(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    for len in [125usize, 126, 65535, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let bytes = frame(true, 2, &payload, [0x5a, 0xa5, 0x3c, 0xc3]);
        let header = bytes.len() - len;
        // The header cut inside the extended length and inside the key (at every byte for
        // the small payloads; at a few places for the big ones, to stay quick), then the
        // payload in two.
        let cuts: Vec<usize> = if len < 1000 {
            (1..header).collect()
        } else {
            vec![1, 3, header - 3, header - 1]
        };
        for cut in cuts {
            let pieces = [
                &bytes[..cut],
                &bytes[cut..header],
                &bytes[header..header + len / 2],
                &bytes[header + len / 2..],
            ];
            let (got, end) = exchange(addr, &pieces, Duration::from_millis(15))?;
            let want = line(true, 2, &payload);
            if got != want.as_bytes() || end != End::Closed {
                let form = match len {
                    0..=125 => "the 7-bit length",
                    126..=65535 => "the 16-bit length form (126 and 2 bytes)",
                    _ => {
                        "the 64-bit length form (127 and 8 bytes), exactly MAX_PAYLOAD"
                    }
                };
                let seen: String =
                    String::from_utf8_lossy(&got).chars().take(60).collect();
                return Err(fail(
                    format!(
                        "a frame of {len} bytes in {form}, its {header}-byte header cut \
                         after byte {cut}: `1 2 {len} …`, then the end"
                    ),
                    format!("{seen:?}… ({} bytes, {end:?})", got.len()),
                    "126 means the length is in the next 2 bytes, 127 in the next 8, both \
                     big-endian (`u16::from_be_bytes`, `u64::from_be_bytes`); the key follows \
                     them, and until all of it is in, the answer is `Ok(None)`; a length \
                     equal to MAX_PAYLOAD is allowed",
                ));
            }
        }
    }
    Ok(())
}

/// Sends `bytes` and keeps the connection open: the server must answer `error: …` and hang up
/// by itself, within 2 s, whatever it is waiting for.
fn expect_refused(ctx: &Ctx, bytes: &[u8], hint: &str) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut stream = connect(addr)?;
    let started = Instant::now();
    let _ = stream.write_all(bytes);
    let (got, end) = read_to_end(&mut stream, Duration::from_secs(2));
    let elapsed = started.elapsed();
    if got.starts_with(b"error: ")
        && got.ends_with(b"\n")
        && matches!(end, End::Closed)
    {
        return Ok(());
    }
    Err(fail(
        format!(
            "after {}: a line `error: …`, and the server hangs up at once",
            show(bytes)
        ),
        format!(
            "{} and {} after {:.1} s",
            show(&got),
            match end {
                End::Open => "the connection still open",
                End::Closed => "the end of the stream",
                End::Reset => "a reset",
            },
            elapsed.as_secs_f64()
        ),
        hint,
    ))
}

fn unmasked(ctx: &Ctx) -> Result<(), Fail> {
    // FIN + text, MASK clear, 5 bytes: "hello" would follow, unmasked. Only the two first
    // bytes are sent: the decision needs no more.
    expect_refused(
        ctx,
        &[0x81, 0x05],
        "the top bit of byte 1 is MASK: a client frame without it is refused \
         (`Err(io::Error::new(ErrorKind::InvalidData, …))`) as soon as byte 1 is in",
    )
}

fn over_the_limit(ctx: &Ctx) -> Result<(), Fail> {
    let mut over = vec![0x82, 0x80 | 127];
    over.extend_from_slice(&65537u64.to_be_bytes());
    expect_refused(
        ctx,
        &over,
        "compare the length with MAX_PAYLOAD as soon as its bytes are in: a frame that \
         announces more is refused before its key or payload arrive (they may never come)",
    )?;
    let mut huge = vec![0x82, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge.extend_from_slice(&[1, 2, 3, 4]);
    expect_refused(
        ctx,
        &huge,
        "a terabyte announced and nothing sent: refuse on the length alone, without \
         waiting for (or allocating) the payload",
    )
}
