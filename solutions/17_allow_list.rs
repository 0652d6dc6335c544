//! # Exercise 17 · an allow-list for both families (chapter 17)
//!
//! A dual-stack server (chapter 17: one socket on `[::]`, `IPV6_V6ONLY` off) that admits only
//! the clients whose address lies in one of the networks given with `--allow`, such as
//! `--allow 127.0.0.0/8 --allow ::1/128`: an admitted client gets the line `hello`, another is
//! closed without a word (the server prints `refused: ADDR`). Parsing the networks is written;
//! **write `allowed`** below. On a dual-stack socket an IPv4 client's address arrives in IPv6
//! clothes, `::ffff:127.0.0.1`, and an `--allow` for IPv4 must still match it.
//!
//! Try it by hand (two terminals):
//!
//! ```text
//! terminal 1:  cargo run --example ex17_allow_list -- --allow 127.0.0.0/8
//! terminal 2:  nc 127.0.0.1 7878          (hello)
//!              nc ::1 7878                (closed at once: ::1 is not in 127.0.0.0/8)
//! ```
//!
//! Check it (the checker connects over IPv4 and IPv6, and from 127.0.0.2 where it can):
//!
//! ```text
//! cargo run --bin check -- 17_allow_list
//! ```

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::{cli, net};
use socket2::{Domain, Protocol, Socket, Type};

/// Allow-list server: says `hello` to clients in the allowed networks, closes the others.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; `[::]` is dual-stack. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "[::]:7878")]
    addr: SocketAddr,
    /// A network whose clients are admitted, as ADDRESS/PREFIX (`10.0.0.0/8`, `::1/128`).
    /// Repeat it for several; none admits no one.
    #[arg(long, value_parser = parse_net)]
    allow: Vec<Net>,
}

/// A network: the addresses whose first `prefix` bits are those of `addr`.
#[derive(Clone, Copy, Debug)]
struct Net {
    addr: IpAddr,
    /// 0 to 32 for IPv4, 0 to 128 for IPv6 (checked by `parse_net`).
    prefix: u8,
}

/// `10.0.0.0/8` → `Net { addr: 10.0.0.0, prefix: 8 }`.
fn parse_net(text: &str) -> Result<Net, String> {
    let (addr, prefix) = text.split_once('/').ok_or_else(|| {
        format!("`{text}` is not ADDRESS/PREFIX, such as 10.0.0.0/8")
    })?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an IPv4 or IPv6 address"))?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = prefix.parse().ok().filter(|&p| p <= bits).ok_or_else(|| {
        format!("`{prefix}` is not a prefix length from 0 to {bits}")
    })?;
    Ok(Net { addr, prefix })
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let listener = listen(args.addr)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;
    for net in &args.allow {
        println!("allowing: {}/{}", net.addr, net.prefix);
    }
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        if allowed(peer.ip(), &args.allow) {
            println!("admitted: {peer}");
            let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(b"hello\n");
        } else {
            println!("refused: {peer}");
        }
        // Either way, dropping `stream` closes the connection.
    }
    Ok(())
}

/// Chapter 17's listener: the family from the address, and on IPv6 `IPV6_V6ONLY` set off
/// explicitly (its default differs between systems), so `[::]` takes IPv4 clients too.
fn listen(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(net::BACKLOG)?;
    Ok(socket.into())
}

// ============================== YOUR PART ==============================
/// Is `peer` in one of the networks `nets`?
///
/// Given: `peer`, the client's address as `accept` gave it (on a dual-stack socket an IPv4
/// client is `::ffff:a.b.c.d`); `nets`, the `--allow` networks, prefixes already checked.
///
/// Must hold:
/// 1. `peer` is in a network when its first `prefix` bits equal those of the network's address;
/// 2. an IPv4 client matches the IPv4 networks however it arrived: `127.0.0.1`, or
///    `::ffff:127.0.0.1` on a dual-stack socket;
/// 3. an IPv4 network never matches an IPv6 client, nor an IPv6 network an IPv4 client (`::1`
///    is not in `127.0.0.0/8`, whatever its bits);
/// 4. every prefix works, the edges too: `/0` is the whole family (`0.0.0.0/0`: every IPv4
///    client), `/32` and `/128` one address;
/// 5. no `--allow` at all admits no one.
///
/// Hints, one at a time:
/// 1. `peer.to_canonical()` turns `::ffff:a.b.c.d` into the IPv4 address `a.b.c.d`
///    (and leaves every other address as it is).
/// 2. `match (peer, net.addr)` on the pairs `(IpAddr::V4(p), IpAddr::V4(n))` and the same for
///    V6; any other pair does not match. `u32::from(ipv4)` and `u128::from(ipv6)` give the bits.
/// 3. The mask of the first `prefix` bits: `u32::MAX << (32 - prefix)` overflows for prefix 0
///    (a shift by the full width); `u32::MAX.checked_shl(32 - prefix).unwrap_or(0)` does not.
fn allowed(peer: IpAddr, nets: &[Net]) -> bool {
    // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d: back to a.b.c.d.
    let peer = peer.to_canonical();
    nets.iter().any(|net| match (peer, net.addr) {
        (IpAddr::V4(p), IpAddr::V4(n)) => same_prefix_v4(p, n, net.prefix),
        (IpAddr::V6(p), IpAddr::V6(n)) => same_prefix_v6(p, n, net.prefix),
        // A network of one family never holds an address of the other.
        _ => false,
    })
}

/// Do `a` and `b` share their first `prefix` bits? A shift by 32 overflows: `/0`'s mask is 0.
fn same_prefix_v4(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

fn same_prefix_v6(a: Ipv6Addr, b: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    u128::from(a) & mask == u128::from(b) & mask
}
// ============================ END OF YOUR PART ============================
