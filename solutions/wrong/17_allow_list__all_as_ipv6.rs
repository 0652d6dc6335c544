// WRONG (family) breaks 3: compares every address as IPv6 (IPv4 mapped to ::ffff:a.b.c.d, its prefix + 96): `--allow ::/0` admits 127.0.0.1.
fn allowed(peer: IpAddr, nets: &[Net]) -> bool {
    let as_v6 = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    let peer = u128::from(as_v6(peer));
    nets.iter().any(|net| {
        let prefix = u32::from(net.prefix) + if net.addr.is_ipv4() { 96 } else { 0 };
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        peer & mask == u128::from(as_v6(net.addr)) & mask
    })
}
