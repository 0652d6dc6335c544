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
            holds: &[],
            run: v4_net_mapped_client,
        },
        Check {
            name: "--allow 127.0.0.0/8: a client from ::1 is closed without a word",
            holds: &[],
            run: v4_net_v6_client,
        },
        Check {
            name: "--allow ::1/128: ::1 gets `hello`, 127.0.0.1 is closed",
            holds: &[],
            run: v6_net,
        },
        Check {
            name: "--allow 0.0.0.0/0: 127.0.0.1 gets `hello` (a prefix of 0 bits), ::1 is closed",
            holds: &[],
            run: whole_v4,
        },
        Check {
            name: "--allow 127.0.0.1/32: 127.0.0.1 gets `hello`, 127.0.0.2 is closed; no \
                   --allow at all: 127.0.0.1 is closed",
            holds: &[],
            run: one_address,
        },
    ],
};

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Starts the server on `[::]:0` with `allow` networks, and returns it and its port.
fn start(ctx: &Ctx, allow: &[&str]) -> Result<(Proc, u16), Fail> {
    let mut args = vec!["--addr", "[::]:0"];
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
    expect_refused(&allow, port, None, V6, FAMILY_HINT)
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
    expect_refused(&allow, port, None, V6, FAMILY_HINT)
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
