//! Listening sockets with the options a real server wants (chapter 06).
//!
//! std's `TcpListener::bind` is a fine start, and chapters 01–05 use it as taught. But it makes
//! two choices for you: it sets `SO_REUSEADDR` on Unix (and not on Windows), and it asks for a
//! listen backlog of 128 connections. The backlog is the kernel's queue of connections whose
//! handshake is complete but which the program has not `accept`ed yet; when it is full, Linux
//! drops the next handshakes, and those clients retry one second later, then three, then seven.
//! A burst of thousands of connects then stalls for seconds while the server idles.
//!
//! [`listen`] builds the socket step by step with `socket2` instead, so that each choice is
//! visible and made on purpose. From chapter 07 on, servers listen through it.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// The listen backlog [`listen`] asks for: enough for a burst of thousands of connects. Linux
/// silently caps it at `net.core.somaxconn` (4096 by default since Linux 5.4; 128 before).
pub const BACKLOG: i32 = 4096;

// ANCHOR: listen
/// Creates a TCP socket for `addr`, sets `SO_REUSEADDR` where that is right, binds, and listens
/// with a [backlog](BACKLOG) of `backlog` connections.
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    // 1. socket(): the address family follows the address (IPv4 or IPv6).
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;

    // 2. SO_REUSEADDR, before bind. On Unix it lets a restarted server bind its port while
    //    connections of its previous run linger in TIME_WAIT (it never allows two *listening*
    //    sockets on one port). On Windows it means something else and dangerous — another
    //    program could bind the same port and steal connections — so it stays off there, as
    //    in std.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;

    // 3. bind() and listen(), with our backlog instead of std's 128.
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}
// ANCHOR_END: listen

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::SockRef;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    #[test]
    fn listens_and_accepts() {
        let listener = listen("127.0.0.1:0".parse().unwrap(), BACKLOG).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"hi").unwrap();
        let mut got = [0u8; 2];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
    }

    #[cfg(unix)]
    #[test]
    fn sets_reuse_address_on_unix() {
        let listener = listen("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        assert!(SockRef::from(&listener).reuse_address().unwrap());
    }

    #[test]
    fn a_second_listener_on_the_same_port_is_refused() {
        let first = listen("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        let err = listen(first.local_addr().unwrap(), 16).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn works_for_ipv6_where_the_machine_has_it() {
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            return; // no IPv6 loopback here
        }
        let listener = listen("[::1]:0".parse().unwrap(), 16).unwrap();
        assert!(listener.local_addr().unwrap().is_ipv6());
    }
}
