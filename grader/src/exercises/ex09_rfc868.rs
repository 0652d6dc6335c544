//! 09_rfc868: a UDP server that answers with RFC 868's four bytes, across the 2036 wrap.
//!
//! The framework's harness speaks TCP only; the UDP helpers the exercises of chapters 09 and 10
//! share ([`udp_socket`], [`ask`]) live here.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::{Check, Exercise};
use crate::harness::{Ctx, WAIT};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "09_rfc868",
    chapter: "09-udp-time-server.md",
    task: "RFC 868's four bytes from a SystemTime, across the 2036 wrap",
    write: "`rfc868_bytes`",
    checks: &[
        Check {
            name: "2000-01-01T00:00:00Z is answered with bc 17 c2 00 (3,155,673,600 s since 1900)",
            holds: &[],
            run: y2k,
        },
        Check {
            name: "2026-11-24T08:30:59.999Z: the fraction of a second is dropped, not rounded",
            holds: &[],
            run: fraction,
        },
        Check {
            name: "2036-02-07T06:28:15Z, the last second before the wrap, is ff ff ff ff",
            holds: &[],
            run: last_second,
        },
        Check {
            name: "2036-02-07T06:28:16Z wraps to 00 00 00 00, and 2040-01-01T00:00:00Z counts on \
                   from there",
            holds: &[],
            run: after_the_wrap,
        },
    ],
};

/// Seconds from 1900-01-01 to 1970-01-01, written out independently of the exercise.
const OFFSET: i64 = 2_208_988_800;

/// A UDP socket on a free loopback port, with read and write timeouts.
pub(super) fn udp_socket(timeout: Duration) -> Result<UdpSocket, Fail> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| {
        fail(
            "the checker can open a UDP socket on 127.0.0.1",
            e.to_string(),
            "is the loopback interface up?",
        )
    })?;
    let _ = socket.set_read_timeout(Some(timeout));
    let _ = socket.set_write_timeout(Some(timeout));
    Ok(socket)
}

/// Sends `request` to `addr` and waits up to `timeout` for one datagram back from it.
/// `Ok(None)`: no answer in time.
pub(super) fn ask(
    addr: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> Result<Option<Vec<u8>>, Fail> {
    let socket = udp_socket(timeout)?;
    socket.send_to(request, addr).map_err(|e| {
        fail(
            format!("a datagram can be sent to {addr}"),
            e.to_string(),
            "is the server still running?",
        )
    })?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return Ok(None);
        };
        let _ = socket.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from == addr => return Ok(Some(buf[..n].to_vec())),
            Ok(_) => {} // from someone else: not an answer
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Ok(None), // the timeout, or "port unreachable"
        }
    }
}

/// Starts the server with `--now time` and checks its answer to an empty datagram.
fn expect_answer(ctx: &Ctx, time: &str) -> Result<(), Fail> {
    let instant: Timestamp = time.parse().expect("a valid time");
    let expected = ((instant.as_second() + OFFSET) as u32).to_be_bytes();
    let (server, addr) = ctx.server(&["--now", time])?;
    // Ask in rounds of 0.5 s, up to WAIT in all, and stop early if the server has died (a
    // `todo!()` panics at the first datagram: "not done yet" should not take 5 s).
    let mut answer = None;
    let until = Instant::now() + WAIT;
    while answer.is_none() && Instant::now() < until && server.try_status().is_none() {
        answer = ask(addr, &[], Duration::from_millis(500))?;
    }
    let Some(got) = answer else {
        return Err(fail(
            format!("four bytes {expected:02x?} within {WAIT:?}"),
            "no answer",
            "answer every datagram, an empty one too (the starter does: keep that part)",
        ));
    };
    if got == expected {
        return Ok(());
    }
    let value = |b: &[u8]| <[u8; 4]>::try_from(b).map(u32::from_be_bytes).ok();
    let want = u32::from_be_bytes(expected);
    let hint = match value(&got) {
        None => "exactly four bytes: `[u8; 4]`".to_string(),
        Some(_) if got.iter().rev().eq(expected.iter()) => {
            "the right bytes in the wrong order: network byte order is big-endian, most \
             significant byte first (`to_be_bytes`)"
                .to_string()
        }
        Some(v) if want.wrapping_sub(v) == 17 * 86_400 => {
            "17 days short: 1900 to 1970 has 17 leap days (1904, 1908, …, 1968)".to_string()
        }
        Some(v) if i64::from(want.wrapping_sub(v)) == OFFSET => {
            "these are seconds since 1970: RFC 868 counts from 1900".to_string()
        }
        Some(v) if want < v && v == u32::MAX => {
            "past 2036 the count starts again at 0: keep the low 32 bits (`as u32`), do not stop \
             at `u32::MAX`"
                .to_string()
        }
        Some(v) if v == want.wrapping_add(1) => {
            "one second too many: drop the fraction (`as_secs`), do not round it".to_string()
        }
        Some(v) => format!(
            "{v} is {} s away from {want}: seconds since 1970, plus 2,208,988,800",
            v.wrapping_sub(want) as i32
        ),
    };
    Err(fail(
        format!(
            "for {time}: {expected:02x?} ({} s since 1900, wrapped to 32 bits)",
            u32::from_be_bytes(expected)
        ),
        format!("{got:02x?}"),
        hint,
    ))
}

fn y2k(ctx: &Ctx) -> Result<(), Fail> {
    expect_answer(ctx, "2000-01-01T00:00:00Z")
}

fn fraction(ctx: &Ctx) -> Result<(), Fail> {
    expect_answer(ctx, "2026-11-24T08:30:59.999Z")
}

fn last_second(ctx: &Ctx) -> Result<(), Fail> {
    expect_answer(ctx, "2036-02-07T06:28:15Z")
}

fn after_the_wrap(ctx: &Ctx) -> Result<(), Fail> {
    expect_answer(ctx, "2036-02-07T06:28:16Z")?;
    expect_answer(ctx, "2040-01-01T00:00:00Z")
}
