// WRONG (resource) breaks 3: a refused client's +1 is never taken back: after a few refusals, the places that come back are already counted away.
fn admit_or_refuse(
    stream: TcpStream,
    peer: SocketAddr,
    active: &Arc<AtomicUsize>,
    max: usize,
    shutdown: &Shutdown,
) -> Option<JoinHandle<()>> {
    if active.fetch_add(1, Ordering::SeqCst) >= max {
        refuse(stream, peer);
        return None;
    }
    let active = Arc::clone(active);
    let shutdown = shutdown.clone();
    thread::Builder::new()
        .name(format!("client {peer}"))
        .spawn(move || {
            serve_client(stream, peer, &shutdown);
            active.fetch_sub(1, Ordering::SeqCst);
        })
        .ok()
}
