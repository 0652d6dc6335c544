// WRONG (family) breaks 0: maps every IPv4 address to IPv6 but keeps the IPv4 prefix: `127.0.0.0/8` becomes `::ffff:127.0.0.0/8`, which holds `::1` too.
fn allowed(peer: IpAddr, nets: &[Net]) -> bool {
    // One family for all: IPv4 addresses become IPv6 (::ffff:a.b.c.d), and compare as such.
    let as_v6 = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    nets.iter()
        .any(|net| same_prefix_v6(as_v6(peer), as_v6(net.addr), net.prefix))
}

fn same_prefix_v4(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

fn same_prefix_v6(a: Ipv6Addr, b: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    u128::from(a) & mask == u128::from(b) & mask
}
