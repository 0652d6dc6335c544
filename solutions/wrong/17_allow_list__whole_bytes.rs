// WRONG (boundary) breaks 1: compares the first `prefix / 8` whole bytes: a prefix inside a byte (`/31`) is rounded down, and 127.0.0.2 is in 127.0.0.0/31.
fn allowed(peer: IpAddr, nets: &[Net]) -> bool {
    let peer = peer.to_canonical();
    nets.iter().any(|net| {
        let bytes = usize::from(net.prefix / 8);
        match (peer, net.addr) {
            (IpAddr::V4(p), IpAddr::V4(n)) => {
                p.octets()[..bytes] == n.octets()[..bytes]
            }
            (IpAddr::V6(p), IpAddr::V6(n)) => {
                p.octets()[..bytes] == n.octets()[..bytes]
            }
            _ => false,
        }
    })
}
