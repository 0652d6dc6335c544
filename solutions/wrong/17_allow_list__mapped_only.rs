// WRONG (family) breaks 2: expects every IPv4 client as ::ffff:a.b.c.d (as on the dual-stack socket): on an IPv4 socket a plain 127.0.0.1 matches nothing.
fn allowed(peer: IpAddr, nets: &[Net]) -> bool {
    let IpAddr::V6(peer) = peer else {
        return false; // "a dual-stack server sees only IPv6 addresses"
    };
    let peer = peer.to_canonical();
    nets.iter().any(|net| match (peer, net.addr) {
        (IpAddr::V4(p), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(net.prefix))
                .unwrap_or(0);
            u32::from(p) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(p), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(net.prefix))
                .unwrap_or(0);
            u128::from(p) & mask == u128::from(n) & mask
        }
        _ => false,
    })
}
