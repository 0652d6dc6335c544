// WRONG (boundary) breaks 0: `u32::MAX << (32 - prefix)`: for `/0` a shift by the full width, which overflows (a panic in a debug build).
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

fn same_prefix_v4(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX << (32 - u32::from(prefix));
    u32::from(a) & mask == u32::from(b) & mask
}

fn same_prefix_v6(a: Ipv6Addr, b: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX << (128 - u32::from(prefix));
    u128::from(a) & mask == u128::from(b) & mask
}
