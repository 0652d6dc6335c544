// WRONG (boundary) breaks 1: an off-by-one in the limit (`>` instead of `>=`): serves max + 1 clients at once.
fn admit_or_refuse(
    stream: TcpStream,
    peer: SocketAddr,
    active: &Arc<AtomicUsize>,
    max: usize,
    shutdown: &Shutdown,
) -> Option<JoinHandle<()>> {
    if active.fetch_add(1, Ordering::SeqCst) > max {
        active.fetch_sub(1, Ordering::SeqCst);
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
