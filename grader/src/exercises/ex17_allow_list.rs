//! 17_allow_list: a dual-stack server that admits clients by network, for both families.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::{Check, Exercise};
use crate::harness::{Ctx, End, Proc, WAIT, read_to_end, show};
use crate::report::{Fail, fail};

pub static EXERCISE: Exercise = Exercise {
    name: "17_allow_list",
    chapter: "17-dual-stack.md",
    task: "an allow-list of networks on a dual-stack server, IPv4-mapped clients included",
    write: "`allowed`",
    checks: &[
        Check {
            name: "--allow 127.0.0.0/8 on [::]: a client from 127.0.0.1 (seen as \
                   ::ffff:127.0.0.1) gets `hello`",
            holds: &[2],
            run: v4_net_mapped_client,
        },
        Check {
            name: "--allow 127.0.0.0/8: a client from ::1 is closed without a word",
            holds: &[3],
            run: v4_net_v6_client,
        },
        Check {
            name: "--allow ::1/128: ::1 gets `hello`, 127.0.0.1 is closed",
            holds: &[1, 3, 4],
            run: v6_net,
        },
        Check {
            name: "--allow 0.0.0.0/0: 127.0.0.1 gets `hello` (a prefix of 0 bits), ::1 is closed",
            holds: &[3, 4],
            run: whole_v4,
        },
        Check {
            name: "--allow 127.0.0.1/32: 127.0.0.1 gets `hello`, 127.0.0.2 is closed; no \
                   --allow at all: 127.0.0.1 is closed",
            holds: &[1, 4, 5],
            run: one_address,
        },
        Check {
            name: "--allow ::/0: ::1 gets `hello` (a prefix of 0 bits), 127.0.0.1 is closed (an \
                   IPv6 network, however wide, holds no IPv4 client)",
            holds: &[3, 4],
            run: whole_v6,
        },
        Check {
            name: "networks given with host bits set: --allow 127.0.0.1/8 admits 127.0.0.1 and \
                   127.0.0.2, --allow ::ff/120 admits ::1",
            holds: &[1],
            run: host_bits_set,
        },
        Check {
            name: "prefixes inside a byte: --allow 127.0.0.0/31 admits 127.0.0.1, not 127.0.0.2; \
                   --allow ::2/127 does not admit ::1",
            holds: &[1],
            run: prefix_inside_a_byte,
        },
        Check {
            name: "--allow 127.0.0.0/8 on an IPv4-only socket (127.0.0.1): 127.0.0.1, seen as \
                   itself, gets `hello`",
            holds: &[2],
            run: v4_only_socket,
        },
    ],
};

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Starts the server on `[::]:0` with `allow` networks, and returns it and its port.
fn start(ctx: &Ctx, allow: &[&str]) -> Result<(Proc, u16), Fail> {
    start_on(ctx, "[::]:0", allow)
}

/// Starts the server on `addr` with `allow` networks.
fn start_on(ctx: &Ctx, addr: &str, allow: &[&str]) -> Result<(Proc, u16), Fail> {
    let mut args = vec!["--addr", addr];
    for net in allow {
        args.extend(["--allow", net]);
    }
    let proc = ctx.start(&args)?;
    let addr = proc.listening().map_err(|mut f| {
        f.hint =
            "the server listens on [::] (given code): does this machine have IPv6 on \
                  loopback? (`ping -6 ::1`)"
                .to_string();
        f
    })?;
    Ok((proc, addr.port()))
}

/// Connects from `source` (port chosen by the system) to `to` on `port`, and reads what the
/// server says until it closes.
fn visit(
    source: Option<IpAddr>,
    to: IpAddr,
    port: u16,
) -> Result<(Vec<u8>, End), Fail> {
    let target = SocketAddr::new(to, port);
    let socket = Socket::new(
        Domain::for_address(target),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|e| fail("a client socket", e.to_string(), "run the check again"))?;
    if let Some(source) = source {
        socket
            .bind(&SockAddr::from(SocketAddr::new(source, 0)))
            .map_err(|e| {
                fail(
                    format!("a client socket bound to {source}"),
                    e.to_string(),
                    "run the check again",
                )
            })?;
    }
    socket
        .connect_timeout(&SockAddr::from(target), WAIT)
        .map_err(|e| {
            fail(
                format!("the server accepts a connection on {target}"),
                format!("connect failed: {e}"),
                "is the server still running? (see its errors above)",
            )
        })?;
    let mut stream: TcpStream = socket.into();
    let _ = stream.set_read_timeout(Some(WAIT));
    Ok(read_to_end(&mut stream, WAIT))
}

fn from_name(source: Option<IpAddr>, to: IpAddr) -> String {
    match source {
        Some(s) => s.to_string(),
        None => to.to_string(),
    }
}

fn expect_hello(
    allow: &[&str],
    port: u16,
    source: Option<IpAddr>,
    to: IpAddr,
    hint: &str,
) -> Result<(), Fail> {
    let (got, end) = visit(source, to, port)?;
    if got == b"hello\n" && end == End::Closed {
        return Ok(());
    }
    Err(fail(
        format!(
            "with --allow {}: a client from {} gets \"hello\\n\"",
            allow.join(" --allow "),
            from_name(source, to)
        ),
        format!("{} ({end:?})", show(&got)),
        hint,
    ))
}

fn expect_refused(
    allow: &[&str],
    port: u16,
    source: Option<IpAddr>,
    to: IpAddr,
    hint: &str,
) -> Result<(), Fail> {
    let (got, end) = visit(source, to, port)?;
    if got.is_empty() && end != End::Open {
        return Ok(());
    }
    let allow = if allow.is_empty() {
        "no --allow".to_string()
    } else {
        format!("--allow {}", allow.join(" --allow "))
    };
    Err(fail(
        format!(
            "with {allow}: a client from {} is closed without a word",
            from_name(source, to)
        ),
        format!("{} ({end:?})", show(&got)),
        hint,
    ))
}

const MAPPED_HINT: &str = "on a dual-stack socket an IPv4 client is ::ffff:a.b.c.d: \
                           `peer.to_canonical()` gives back a.b.c.d";
const V6_AS_V4_HINT: &str = "a network of one family never holds an address of the other. \
                             `Ipv6Addr::to_ipv4()` also turns ::1 into 0.0.0.1 (an old \
                             \"compatible\" form): `to_canonical()` unwraps only ::ffff:a.b.c.d";
const FAMILY_HINT: &str = "a network of one family never holds an address of the other: \
                           compare IPv4 with IPv4 and IPv6 with IPv6, and nothing else";

fn v4_net_mapped_client(ctx: &Ctx) -> Result<(), Fail> {
    let allow = ["127.0.0.0/8"];
    let (_server, port) = start(ctx, &allow)?;
    expect_hello(&allow, port, None, V4, MAPPED_HINT)
}

fn v4_net_v6_client(ctx: &Ctx) -> Result<(), Fail> {
    let allow = ["127.0.0.0/8"];
    let (_server, port) = start(ctx, &allow)?;
    expect_refused(&allow, port, None, V6, V6_AS_V4_HINT)
}

fn v6_net(ctx: &Ctx) -> Result<(), Fail> {
    let allow = ["::1/128"];
    let (_server, port) = start(ctx, &allow)?;
    expect_hello(
        &allow,
        port,
        None,
        V6,
        "compare the first `prefix` bits of the two `u128`s (`u128::from(ipv6)`)",
    )?;
    expect_refused(&allow, port, None, V4, FAMILY_HINT)
}

fn whole_v4(ctx: &Ctx) -> Result<(), Fail> {
    let allow = ["0.0.0.0/0"];
    let (_server, port) = start(ctx, &allow)?;
    expect_hello(
        &allow,
        port,
        None,
        V4,
        "the mask of 0 bits is 0, and `u32::MAX << 32` overflows: \
         `u32::MAX.checked_shl(32 - prefix).unwrap_or(0)`",
    )?;
    expect_refused(&allow, port, None, V6, V6_AS_V4_HINT)
}

fn one_address(ctx: &Ctx) -> Result<(), Fail> {
    let allow = ["127.0.0.1/32"];
    let (server, port) = start(ctx, &allow)?;
    expect_hello(
        &allow,
        port,
        None,
        V4,
        "a prefix of 32 bits is the whole address: the mask is `u32::MAX`",
    )?;
    // 127.0.0.2 is a loopback address on Linux without any setup; macOS and Windows configure
    // only 127.0.0.1, so the bind fails there and this part is skipped.
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    if std::net::TcpListener::bind(SocketAddr::new(other, 0)).is_ok() {
        expect_refused(
            &allow,
            port,
            Some(other),
            V4,
            "all 32 bits must be equal: is the mask the first `prefix` bits, from the left?",
        )?;
    } else {
        ctx.note(
            "127.0.0.2 is not a local address here: the /32 refusal was not tried",
        );
    }
    drop(server);
    let (_server, port) = start(ctx, &[])?;
    expect_refused(
        &[],
        port,
        None,
        V4,
        "no network at all: `nets.iter().any(…)` is false",
    )
}

/// 127.0.0.2, where it is a local address without setup (Linux); `None` elsewhere, with a note.
fn second_loopback(ctx: &Ctx, what: &str) -> Option<IpAddr> {
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    if std::net::TcpListener::bind(SocketAddr::new(other, 0)).is_ok() {
        Some(other)
    } else {
        ctx.note(format!(
            "127.0.0.2 is not a local address here: {what} was not tried"
        ));
        None
    }
}

fn whole_v6(ctx: &Ctx) -> Result<(), Fail> {
    let allow = ["::/0"];
    let (_server, port) = start(ctx, &allow)?;
    expect_hello(
        &allow,
        port,
        None,
        V6,
        "the mask of 0 bits is 0, and `u128::MAX << 128` overflows: \
         `u128::MAX.checked_shl(128 - prefix).unwrap_or(0)`",
    )?;
    expect_refused(
        &allow,
        port,
        None,
        V4,
        "127.0.0.1 arrives as ::ffff:127.0.0.1, which *is* in ::/0 as bits go: turn it back \
         into IPv4 first (`to_canonical()`), then compare only within one family",
    )
}

const MASK_BOTH_HINT: &str = "the network may be written with host bits set: mask both \
                              sides, `peer & mask == net & mask`, not `peer & mask == net`";

fn host_bits_set(ctx: &Ctx) -> Result<(), Fail> {
    let allow = ["127.0.0.1/8"];
    let (server, port) = start(ctx, &allow)?;
    expect_hello(&allow, port, None, V4, MASK_BOTH_HINT)?;
    if let Some(other) = second_loopback(ctx, "127.0.0.2 in 127.0.0.1/8") {
        expect_hello(&allow, port, Some(other), V4, MASK_BOTH_HINT)?;
    }
    drop(server);
    let allow = ["::ff/120"];
    let (_server, port) = start(ctx, &allow)?;
    expect_hello(&allow, port, None, V6, MASK_BOTH_HINT)
}

fn prefix_inside_a_byte(ctx: &Ctx) -> Result<(), Fail> {
    const BITS_HINT: &str = "compare bits, not bytes: the mask of a /31 or a /127 ends inside \
                             the last byte (`u32::MAX << 1`), so …10 is outside a network \
                             of …00 and …01";
    let allow = ["127.0.0.0/31"];
    let (server, port) = start(ctx, &allow)?;
    expect_hello(
        &allow,
        port,
        None,
        V4,
        "127.0.0.1 and 127.0.0.0 differ only in the last of 32 bits: a /31 holds both",
    )?;
    if let Some(other) = second_loopback(ctx, "127.0.0.2 outside 127.0.0.0/31") {
        expect_refused(&allow, port, Some(other), V4, BITS_HINT)?;
    }
    drop(server);
    // The same in IPv6, where ::1 is on every machine: ::2/127 holds ::2 and ::3, not ::1.
    let allow = ["::2/127"];
    let (_server, port) = start(ctx, &allow)?;
    expect_refused(&allow, port, None, V6, BITS_HINT)
}

fn v4_only_socket(ctx: &Ctx) -> Result<(), Fail> {
    let allow = ["127.0.0.0/8"];
    let (_server, port) = start_on(ctx, "127.0.0.1:0", &allow)?;
    expect_hello(
        &allow,
        port,
        None,
        V4,
        "on an IPv4 socket the peer is a plain `IpAddr::V4`, not ::ffff:…: handle both forms \
         (`to_canonical()` leaves an IPv4 address as it is)",
    )
}
