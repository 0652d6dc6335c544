//! 14_private_message: `/tell NICK TEXT` in a chat room, to one member only, lock-free writes.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, WAIT, connect, read_line, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "14_private_message",
    chapter: "14-chat-room.md",
    task: "`/tell NICK TEXT` in a chat room: to that member only, an unknown NICK answered",
    write: "`tell`",
    checks: &[
        Check {
            name: "ada's `/tell bob meet at 10:00, room 2` reaches bob whole, and not cy",
            holds: &[1, 2],
            run: only_the_target,
        },
        Check {
            name: "`/tell zed hi` with no zed here: ada is told `error: no one called zed is here`",
            holds: &[3],
            run: unknown_nick,
        },
        Check {
            name: "`/tell bob` without text: ada is told `error: usage: /tell NICK TEXT`",
            holds: &[3],
            run: no_text,
        },
        Check {
            name: "while bob has stopped reading and ada's messages to him wait, cy's `/who` is \
                   answered",
            holds: &[4],
            run: stuck_target,
        },
        Check {
            name: "`/tell bob a  b   c:d,` keeps the text as it is: bob receives \
                   `ada (private): a  b   c:d,` (every space)",
            holds: &[1],
            run: text_as_it_is,
        },
        Check {
            name: "a write to bob fails (his connection was reset while his thread is busy): ada \
                   stays in the room, and her `/who` is answered",
            holds: &[5],
            run: broken_target,
        },
    ],
};

/// A member of the room, as the checker plays it.
struct Member {
    nick: &'static str,
    stream: TcpStream,
}

impl Member {
    /// Joins as `nick` and waits for `welcome NICK`, so the member is in the room afterwards.
    fn join(addr: SocketAddr, nick: &'static str) -> Result<Member, Fail> {
        Member::join_on(connect(addr)?, nick)
    }

    /// Joins as a member that will stop reading, with a small receive buffer: the buffers
    /// between the server and it fill after some 50 kB, not megabytes, however slow the
    /// machine.
    fn join_not_reading(addr: SocketAddr, nick: &'static str) -> Result<Member, Fail> {
        let socket =
            Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
                .map_err(|e| {
                    fail("a client socket", e.to_string(), "run the check again")
                })?;
        // Before `connect`: the window is agreed on in the handshake.
        let _ = socket.set_recv_buffer_size(4096);
        socket
            .connect_timeout(&SockAddr::from(addr), WAIT)
            .map_err(|e| {
                fail(
                    format!("the server accepts a connection on {addr}"),
                    format!("connect failed: {e}"),
                    "is the server still running? (see its errors above)",
                )
            })?;
        let stream: TcpStream = socket.into();
        let _ = stream.set_read_timeout(Some(WAIT));
        let _ = stream.set_write_timeout(Some(WAIT));
        Member::join_on(stream, nick)
    }

    fn join_on(stream: TcpStream, nick: &'static str) -> Result<Member, Fail> {
        let mut member = Member { nick, stream };
        member.say(nick)?;
        let line = member.next_line(Duration::from_secs(3));
        if line != format!("welcome {nick}") {
            return Err(fail(
                format!("`welcome {nick}` after sending the nickname {nick}"),
                show(line.as_bytes()),
                "the joining is given code: keep it as the starter has it",
            ));
        }
        Ok(member)
    }

    fn say(&mut self, line: &str) -> Result<(), Fail> {
        self.stream
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| {
                fail(
                    format!("{} can send {line:?}", self.nick),
                    format!("sending failed: {e}"),
                    "did the server hang up on this member? return errors only for the sender's \
                     own socket",
                )
            })
    }

    /// The next line that is not a `* … joined/left` notice, without its `\n` ("" if none came
    /// within `timeout`).
    fn next_line(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (line, end) = read_line(&mut self.stream, left);
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            if text.starts_with("* ") && end == End::Open {
                continue;
            }
            return text;
        }
    }
}

fn expect_line(
    member: &mut Member,
    expected: &str,
    after: &str,
    hint: &str,
) -> Result<(), Fail> {
    let line = member.next_line(Duration::from_secs(3));
    if line == expected {
        return Ok(());
    }
    let seen = if line.is_empty() {
        "nothing within 3 s".to_string()
    } else {
        show(line.as_bytes())
    };
    Err(fail(
        format!("{} receives {expected:?} {after}", member.nick),
        seen,
        hint,
    ))
}

fn only_the_target(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut ada = Member::join(addr, "ada")?;
    let mut bob = Member::join(addr, "bob")?;
    let mut cy = Member::join(addr, "cy")?;
    ada.say("/tell bob meet at 10:00, room 2")?;
    expect_line(
        &mut bob,
        "ada (private): meet at 10:00, room 2",
        "after ada's `/tell bob meet at 10:00, room 2`",
        "the text is everything after the first space that follows NICK: `rest.split_once(' ')`",
    )?;
    // Then a public line: the next thing cy (and only then ada) sees must be it, not the secret.
    ada.say("hello all")?;
    expect_line(
        &mut cy,
        "ada: hello all",
        "next: the private line was for bob only",
        "send the private line to the target's stream only, with `send_line`, not `broadcast`",
    )?;
    bob.say("back to you")?;
    expect_line(
        &mut ada,
        "bob: back to you",
        "next: the sender is not sent its own private line",
        "send the private line to the target's stream only, with `send_line`, not `broadcast`",
    )
}

fn unknown_nick(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut ada = Member::join(addr, "ada")?;
    let _bob = Member::join(addr, "bob")?;
    ada.say("/tell zed hi")?;
    expect_line(
        &mut ada,
        "error: no one called zed is here",
        "after `/tell zed hi`",
        "when the lookup finds no one, tell the sender, with `send_line(me, …)`",
    )?;
    ada.say("/who")?;
    expect_line(
        &mut ada,
        "here: ada, bob",
        "after `/who`: ada is still in the room",
        "an unknown NICK is the sender's mistake, not an error that ends the session: return \
         what `send_line` returns",
    )
}

fn no_text(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut ada = Member::join(addr, "ada")?;
    let _bob = Member::join(addr, "bob")?;
    ada.say("/tell bob")?;
    expect_line(
        &mut ada,
        "error: usage: /tell NICK TEXT",
        "after `/tell bob` (the server sees the rest `bob`, with no space)",
        "`rest.split_once(' ')` returns `None` when there is no text",
    )
}

fn stuck_target(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let bob = Member::join_not_reading(addr, "bob")?; // and never reads again
    let ada = Member::join(addr, "ada")?;
    let mut cy = Member::join(addr, "cy")?;
    // ada floods bob with private lines until the kernel's buffers between the server and bob
    // are full (a few MB on loopback) and the server's write to bob waits.
    let mut flood = ada.stream.try_clone().map_err(|e| {
        fail(
            "a second handle on the checker's socket",
            e.to_string(),
            "run the check again",
        )
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let flooder = thread::spawn(move || {
        let line = format!("/tell bob {}\n", "x".repeat(1000));
        let started = Instant::now();
        let mut sent = 0usize;
        while !stopped.load(Ordering::Relaxed)
            && sent < 64 << 20
            && started.elapsed() < Duration::from_secs(4)
        {
            if flood.write_all(line.as_bytes()).is_err() {
                break; // the server stopped reading ada: it is waiting on bob
            }
            sent += line.len();
        }
    });
    // Time for the buffers to fill (some 50 kB: bob's receive buffer is small), on a busy
    // machine too.
    thread::sleep(Duration::from_millis(700));
    cy.say("/who")?;
    let result = expect_line(
        &mut cy,
        "here: ada, bob, cy",
        "after `/who`, while the server waits to write to bob",
        "look the target up under the lock, release it, and only then write: \
         `let target = lock(room).get(nick).cloned();`",
    );
    stop.store(true, Ordering::Relaxed);
    drop(bob);
    let _ = flooder.join();
    drop(ada);
    result
}

fn text_as_it_is(ctx: &Ctx) -> Result<(), Fail> {
    let (_server, addr) = ctx.server(&[])?;
    let mut ada = Member::join(addr, "ada")?;
    let mut bob = Member::join(addr, "bob")?;
    ada.say("/tell bob a  b   c:d,")?;
    let expected = "ada (private): a  b   c:d,";
    let line = bob.next_line(Duration::from_secs(3));
    if line == expected {
        return Ok(());
    }
    Err(fail(
        format!("bob receives {expected:?} (two spaces, then three)"),
        if line.is_empty() {
            "nothing within 3 s".to_string()
        } else {
            show(line.as_bytes())
        },
        if line.starts_with("ada (private):") {
            "TEXT is everything after the first space that follows NICK, as it is: \
             `rest.split_once(' ')` — splitting into words and joining them again loses the \
             spaces"
        } else {
            "send `FROM (private): TEXT` to the target's stream with `send_line`"
        },
    ))
}

fn broken_target(ctx: &Ctx) -> Result<(), Fail> {
    let (server, addr) = ctx.server(&[])?;
    let mut ada = Member::join(addr, "ada")?;
    let mut bob = Member::join(addr, "bob")?;
    let cy = Member::join(addr, "cy")?;
    let dan = Member::join_not_reading(addr, "dan")?; // never reads: writes to dan wait
    // cy floods dan with private lines until the buffers towards dan are full and cy's
    // thread waits on dan (up to 5 s).
    let mut flood = cy.stream.try_clone().map_err(|e| {
        fail(
            "a second handle on the checker's socket",
            e.to_string(),
            "run the check again",
        )
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let flooder = thread::spawn(move || {
        let line = format!("/tell dan {}\n", "x".repeat(1000));
        let started = Instant::now();
        let mut sent = 0usize;
        while !stopped.load(Ordering::Relaxed)
            && sent < 64 << 20
            && started.elapsed() < Duration::from_secs(3)
        {
            if flood.write_all(line.as_bytes()).is_err() {
                break;
            }
            sent += line.len();
        }
    });
    thread::sleep(Duration::from_millis(700));
    // bob says public lines, 270 kB of them: his thread broadcasts each, and soon waits to
    // write one to dan (a small line could still slip into the last, half-full segment
    // queued for dan). bob's thread cannot notice that bob's connection is reset below: bob
    // stays in the room with a broken socket. (Non-blocking: the lines stay in the buffers.)
    let _ = bob.stream.set_nonblocking(true);
    let line = format!("{}\n", "y".repeat(900));
    for _ in 0..300 {
        if bob.stream.write_all(line.as_bytes()).is_err() {
            break;
        }
    }
    thread::sleep(Duration::from_millis(300));
    let _ = socket2::SockRef::from(&bob.stream).set_linger(Some(Duration::ZERO));
    drop(bob);
    thread::sleep(Duration::from_millis(300));
    // The write to bob fails at once (the reset arrived); it must not end ada's session.
    ada.say("/tell bob are you there?")?;
    let result = (|| {
        ada.say("/who")?;
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let line =
                ada.next_line(deadline.saturating_duration_since(Instant::now()));
            if line.is_empty() {
                break;
            }
            if line.starts_with("here: ") {
                return Ok(());
            }
            seen.push(line);
        }
        let dropped: Vec<String> = server
            .stdout
            .snapshot()
            .into_iter()
            .filter(|l| l.starts_with("dropped: "))
            .collect();
        let others: Vec<String> = seen
            .iter()
            .filter(|l| !l.starts_with("bob: y"))
            .map(|l| show(l.as_bytes()))
            .collect();
        Err(fail(
            "ada's `/who` answered with `here: …` after her `/tell bob …` failed to reach bob",
            format!(
                "{} of bob's public lines, then {others:?}, then nothing within 3 s (or the \
                 close); the server printed {dropped:?}",
                seen.len() - others.len()
            ),
            "a failed write to the target is the target's problem: ignore its result \
             (`let _ = send_line(&target, …)`); return only what writing to `me` returns",
        ))
    })();
    stop.store(true, Ordering::Relaxed);
    drop(dan);
    let _ = flooder.join();
    drop(cy);
    result
}
