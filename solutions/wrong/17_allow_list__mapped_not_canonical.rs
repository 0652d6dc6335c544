// WRONG (family) breaks 0: compares the address as `accept` gave it: an IPv4 client on a dual-stack socket (`::ffff:127.0.0.1`) matches no IPv4 network.
fn allowed(peer: IpAddr, nets: &[Net]) -> bool {
    nets.iter().any(|net| match (peer, net.addr) {
        (IpAddr::V4(p), IpAddr::V4(n)) => same_prefix_v4(p, n, net.prefix),
        (IpAddr::V6(p), IpAddr::V6(n)) => same_prefix_v6(p, n, net.prefix),
        // A network of one family never holds an address of the other.
        _ => false,
    })
}

fn same_prefix_v4(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

fn same_prefix_v6(a: Ipv6Addr, b: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    u128::from(a) & mask == u128::from(b) & mask
}
