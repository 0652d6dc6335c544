// WRONG (family) breaks 3: unwraps the peer with `to_ipv4()` instead of `to_canonical()`: ::1 becomes 0.0.0.1, and `--allow 0.0.0.0/0` admits it.
fn allowed(peer: IpAddr, nets: &[Net]) -> bool {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
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
