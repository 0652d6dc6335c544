//! The Linux behaviour that the Portability appendix states and the chapters rely on, checked
//! on every run with real sockets on loopback, so that the text cannot drift from the kernel:
//!
//! - after a peer's reset, the first write fails with `ECONNRESET` and the later ones with
//!   `EPIPE`; after a normal close, the write after the first fails with `EPIPE`
//!   (`portability.md#sigpipe`, `troubleshooting.md`, "broken pipe");
//! - `SO_REUSEADDR` on both sockets does not let a wildcard bind share the port of a socket
//!   listening on `127.0.0.1` (`portability.md#so-reuseaddr`). The wildcard socket only binds:
//!   it never listens, so nothing is reachable from outside the machine.

#![cfg(target_os = "linux")]

use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use socket2::{Domain, SockRef, Socket, Type};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A connected pair on loopback: (our end, the peer's end).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours =
        TcpStream::connect_timeout(&listener.local_addr().unwrap(), TIMEOUT).unwrap();
    let (peer, _) = listener.accept().unwrap();
    for s in [&ours, &peer] {
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
    }
    (ours, peer)
}

/// The error kinds of `n` one-byte writes, 100 ms apart ("ok" for a write that succeeded).
fn writes(stream: &mut TcpStream, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let outcome = match stream.write(b"x") {
                Ok(_) => "ok".to_string(),
                Err(err) => format!("{:?}", err.kind()),
            };
            thread::sleep(Duration::from_millis(100));
            outcome
        })
        .collect()
}

#[test]
fn after_a_reset_the_first_write_fails_with_econnreset_and_the_next_ones_with_epipe() {
    let (mut ours, peer) = pair();
    // SO_LINGER with a zero timeout: close sends a reset instead of a FIN.
    SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer);
    thread::sleep(Duration::from_millis(200)); // the reset arrives
    assert_eq!(
        writes(&mut ours, 3),
        ["ConnectionReset", "BrokenPipe", "BrokenPipe"],
        "the writes after a reset"
    );
}

#[test]
fn after_a_normal_close_the_write_after_the_first_fails_with_epipe() {
    let (mut ours, peer) = pair();
    drop(peer); // a FIN; our first write then draws the peer's reset
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        writes(&mut ours, 3),
        ["ok", "BrokenPipe", "BrokenPipe"],
        "the writes after the peer closed"
    );
}

#[test]
fn so_reuseaddr_does_not_let_a_wildcard_bind_share_a_listening_port() {
    let reusable = |ip: Ipv4Addr, port: u16| -> std::io::Result<Socket> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(&SocketAddr::from((ip, port)).into())?;
        Ok(socket)
    };
    let listening = reusable(Ipv4Addr::LOCALHOST, 0).unwrap();
    listening.listen(16).unwrap();
    let port = listening.local_addr().unwrap().as_socket().unwrap().port();
    let err = reusable(Ipv4Addr::UNSPECIFIED, port)
        .expect_err("Linux refuses a wildcard bind beside a listener on 127.0.0.1");
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");

    // Without the listener (bound only), the same two binds are allowed: it is the listening
    // socket that blocks the port.
    let bound = reusable(Ipv4Addr::LOCALHOST, 0).unwrap();
    let port = bound.local_addr().unwrap().as_socket().unwrap().port();
    reusable(Ipv4Addr::UNSPECIFIED, port).expect("two bound, non-listening sockets");
}
