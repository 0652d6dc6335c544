// WRONG (resource) breaks 2: counts clients in but never out: once `max` clients have come and gone, everyone is refused.
fn admit_or_refuse(
    stream: TcpStream,
    peer: SocketAddr,
    active: &Arc<AtomicUsize>,
    max: usize,
    shutdown: &Shutdown,
) -> Option<JoinHandle<()>> {
    if active.fetch_add(1, Ordering::SeqCst) >= max {
        active.fetch_sub(1, Ordering::SeqCst);
        refuse(stream, peer);
        return None;
    }
    let shutdown = shutdown.clone();
    thread::Builder::new()
        .name(format!("client {peer}"))
        .spawn(move || serve_client(stream, peer, &shutdown))
        .ok()
}
