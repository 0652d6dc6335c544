//! Listening sockets with the options a real server wants (chapter 06).
//!
//! std's `TcpListener::bind` is a fine start, and chapters 01–05 use it as taught. But it
//! makes two choices for you: it sets `SO_REUSEADDR` on Unix (and not on Windows), and it
//! asks for a listen backlog of 128 connections. The backlog is the kernel's queue of
//! connections whose handshake is complete but which the program has not `accept`ed yet.
//! When it is full, Linux drops each new SYN without an answer (`nstat` counts it in
//! `TcpExtListenOverflows` and `TcpExtListenDrops`), and the client, still in SYN-SENT,
//! sends its SYN again after a second — then after one more second each time on Linux 6.5
//! and later (`tcp_syn_linear_timeouts`), or after 2, then 4 seconds on older kernels. A
//! burst of thousands of connects then stalls for seconds while the server idles (chapter
//! 06 measures it).
//!
//! [`listen`] builds the socket step by step with `socket2` instead, so that each choice
//! is visible and made on purpose. From chapter 07 on, servers listen through it.
//!
//! One more choice is made there for every connection at once: a bounded kernel send buffer
//! ([`SEND_BUFFER`]). Left alone, Linux grows a connection's send buffer up to `tcp_wmem`'s
//! maximum (4 MiB by default) while its peer does not read: memory that no `--max-pending`
//! counts and no RSS shows.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// The listen backlog [`listen`] asks for: enough for a burst of thousands of connects. Linux
/// silently caps it at `net.core.somaxconn` (4096 by default since Linux 5.4; 128 before).
pub const BACKLOG: i32 = 4096;

/// The kernel send buffer every connection accepted from a [`listen`]ing socket gets, as
/// chapter 14 gave each member: what a client that never reads can make the server's kernel
/// hold for it. Linux doubles the request for its bookkeeping (socket(7)) and reports
/// 131072, and a buffer set by hand is no longer auto-tuned.
pub const SEND_BUFFER: usize = 64 * 1024;

// ANCHOR: listen
/// Creates a TCP socket for `addr`, sets `SO_REUSEADDR` where that is right, binds,
/// and listens with a [backlog](BACKLOG) of `backlog` connections.
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    // 1. socket(): the address family follows the address (IPv4 or IPv6).
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;

    // 2. SO_REUSEADDR, before bind. On Unix it lets a restarted server bind its port
    //    while connections of its previous run linger in TIME_WAIT (it never allows
    //    two *listening* sockets on one port). On Windows it means something else and
    //    dangerous — another program could bind the same port and steal connections —
    //    so it stays off there, as in std.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;

    // 3. SO_SNDBUF, before listen: every connection accepted from this socket starts
    //    as a copy of it, buffer sizes included (Linux, the BSDs and macOS copy them
    //    into each new socket; on Windows an accepted socket "has the same properties"
    //    as the listening one, `accept`'s documentation). So one line bounds what a
    //    client that never reads costs in kernel memory, for every server.
    socket.set_send_buffer_size(SEND_BUFFER)?;

    // 4. bind() and listen(), with our backlog instead of std's 128.
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}
// ANCHOR_END: listen

// ANCHOR: udp_errors
/// Windows' error number for a datagram longer than the buffer given to
/// `recv`/`recv_from` (WSAEMSGSIZE). std has no `ErrorKind` for it, so we recognise
/// the number.
const WSAEMSGSIZE: i32 = 10040;

/// Whether a failed UDP receive means "that datagram was longer than your buffer".
///
/// Linux and macOS never fail for this: they cut the datagram to the buffer and return
/// `Ok` with the buffer full, which is why chapters 09 and 10 receive into a buffer
/// one byte larger than they accept. Windows keeps the first bytes but fails the call
/// with WSAEMSGSIZE (Microsoft's `recvfrom` documentation), and std then returns the
/// error without the sender's address.
pub fn is_datagram_too_big(err: &io::Error) -> bool {
    cfg!(windows) && err.raw_os_error() == Some(WSAEMSGSIZE)
}

/// Whether a failed UDP call means "an earlier datagram of ours came back as ICMP port
/// unreachable": nothing listens on the port we sent to.
///
/// Linux and macOS report it as `ConnectionRefused` (ECONNREFUSED), and only on a
/// *connected* UDP socket. Windows reports it as `ConnectionReset` (WSAECONNRESET), on
/// connected and unconnected sockets alike (Microsoft's `recvfrom` documentation; the
/// `SIO_UDP_CONNRESET` ioctl turns it off). A UDP socket gets neither error for any
/// other reason, so both kinds mean the same here.
pub fn is_port_unreachable(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    )
}
// ANCHOR_END: udp_errors

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

    /// Chapter 07's claim: an accepted connection inherits the listener's send buffer,
    /// which Linux reports doubled, and keeps it however much waits in it.
    #[cfg(target_os = "linux")]
    #[test]
    fn accepted_connections_inherit_the_bounded_send_buffer() {
        let listener = listen("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        SockRef::from(&client).set_recv_buffer_size(4096).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let mut taken = 0;
        let chunk = [0u8; 65536];
        for _ in 0..1000 {
            match (&server).write(&chunk) {
                Ok(n) => taken += n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => panic!("write failed: {err}"),
            }
        }
        let sndbuf = SockRef::from(&server).send_buffer_size().unwrap();
        assert_eq!(sndbuf, 2 * SEND_BUFFER);
        assert!(taken < 512 * 1024, "{taken} bytes taken by the kernel");
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
    fn both_platforms_ways_of_saying_port_unreachable_are_recognised() {
        // Linux and macOS: ECONNREFUSED on a connected socket; Windows: WSAECONNRESET.
        assert!(is_port_unreachable(&io::Error::from(
            ErrorKind::ConnectionRefused
        )));
        assert!(is_port_unreachable(&io::Error::from(
            ErrorKind::ConnectionReset
        )));
        assert!(!is_port_unreachable(&io::Error::from(
            ErrorKind::WouldBlock
        )));
    }

    #[test]
    fn a_too_big_datagram_is_an_error_only_on_windows() {
        let wsaemsgsize = io::Error::from_raw_os_error(WSAEMSGSIZE);
        assert_eq!(is_datagram_too_big(&wsaemsgsize), cfg!(windows));
        assert!(!is_datagram_too_big(&io::Error::from(
            ErrorKind::WouldBlock
        )));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_reports_port_unreachable_only_on_a_connected_udp_socket() {
        use std::net::UdpSocket;
        use std::time::Duration;
        // A port nobody listens on: bound once, then released.
        let closed = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut buf = [0u8; 16];

        let unconnected = UdpSocket::bind("127.0.0.1:0").unwrap();
        unconnected
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        unconnected.send_to(b"x", closed).unwrap();
        let err = unconnected.recv_from(&mut buf).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{err:?}"
        );

        let connected = UdpSocket::bind("127.0.0.1:0").unwrap();
        connected
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        connected.connect(closed).unwrap();
        connected.send(b"x").unwrap();
        let err = connected.recv(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        assert!(is_port_unreachable(&err));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_cuts_an_oversized_datagram_silently() {
        use std::net::UdpSocket;
        use std::time::Duration;
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender
            .send_to(&[7u8; 100], receiver.local_addr().unwrap())
            .unwrap();
        let mut buf = [0u8; 10];
        let (n, from) = receiver.recv_from(&mut buf).unwrap();
        assert_eq!((n, from), (10, sender.local_addr().unwrap()));
    }

    /// Chapter 09: on loopback a datagram is delivered during `send_to`, so even the smallest
    /// send buffer never fills; what the receiver has no room for is dropped, silently.
    #[cfg(target_os = "linux")]
    #[test]
    fn linux_loopback_never_fills_a_udp_send_buffer() {
        use std::net::UdpSocket;
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap(); // never reads
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        SockRef::from(&sender).set_send_buffer_size(1).unwrap(); // Linux's minimum: 4,608
        sender.set_nonblocking(true).unwrap();
        let to = receiver.local_addr().unwrap();
        let would_block = (0..20_000)
            .filter(|_| match sender.send_to(&[0u8; 1000], to) {
                Ok(_) => false,
                Err(err) if err.kind() == ErrorKind::WouldBlock => true,
                Err(err) => panic!("send_to failed: {err}"),
            })
            .count();
        assert_eq!(would_block, 0);
        assert!(SockRef::from(&sender).send_buffer_size().unwrap() < 20_000);
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
