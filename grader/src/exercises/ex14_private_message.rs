//! 14_private_message: `/tell NICK TEXT` in a chat room, to one member only, lock-free writes.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, connect, read_line, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "14_private_message",
    chapter: "14-chat-room.md",
    task: "`/tell NICK TEXT` in a chat room: to that member only, an unknown NICK answered",
    write: "`tell`",
    checks: &[
        Check {
            name: "ada's `/tell bob meet at 10:00, room 2` reaches bob whole, and not cy",
            holds: &[],
            run: only_the_target,
        },
        Check {
            name: "`/tell zed hi` with no zed here: ada is told `error: no one called zed is here`",
            holds: &[],
            run: unknown_nick,
        },
        Check {
            name: "`/tell bob` without text: ada is told `error: usage: /tell NICK TEXT`",
            holds: &[],
            run: no_text,
        },
        Check {
            name: "while bob has stopped reading and ada's messages to him wait, cy's `/who` is \
                   answered",
            holds: &[],
            run: stuck_target,
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
        let mut member = Member {
            nick,
            stream: connect(addr)?,
        };
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
    let bob = Member::join(addr, "bob")?; // and never reads again
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
    let flooder = thread::spawn(move || {
        let line = format!("/tell bob {}\n", "x".repeat(1000));
        let started = Instant::now();
        let mut sent = 0usize;
        while sent < 64 << 20 && started.elapsed() < Duration::from_secs(4) {
            if flood.write_all(line.as_bytes()).is_err() {
                break; // the server stopped reading ada: it is waiting on bob
            }
            sent += line.len();
        }
    });
    // Time for the buffers to fill, on a busy machine too.
    thread::sleep(Duration::from_millis(1500));
    cy.say("/who")?;
    let result = expect_line(
        &mut cy,
        "here: ada, bob, cy",
        "after `/who`, while the server waits to write to bob",
        "look the target up under the lock, release it, and only then write: \
         `let target = lock(room).get(nick).cloned();`",
    );
    drop(bob);
    let _ = flooder.join();
    drop(ada);
    result
}
