// WRONG (family) breaks 1: masks the peer but not the network's address: `--allow 127.0.0.1/8` refuses 127.0.0.1.
fn allowed(peer: IpAddr, nets: &[Net]) -> bool {
    let peer = peer.to_canonical();
    nets.iter().any(|net| match (peer, net.addr) {
        (IpAddr::V4(p), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(net.prefix))
                .unwrap_or(0);
            u32::from(p) & mask == u32::from(n)
        }
        (IpAddr::V6(p), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(net.prefix))
                .unwrap_or(0);
            u128::from(p) & mask == u128::from(n)
        }
        _ => false,
    })
}
