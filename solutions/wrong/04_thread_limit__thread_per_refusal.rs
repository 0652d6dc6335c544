// WRONG (resource) breaks 3: refuses each client on a thread of its own: a flood of refused clients starts as many threads as it likes.
fn admit_or_refuse(
    stream: TcpStream,
    peer: SocketAddr,
    active: &Arc<AtomicUsize>,
    max: usize,
    shutdown: &Shutdown,
) -> Option<JoinHandle<()>> {
    if active.fetch_add(1, Ordering::SeqCst) >= max {
        active.fetch_sub(1, Ordering::SeqCst);
        thread::spawn(move || refuse(stream, peer));
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
