// WRONG (lock scope) breaks 1: serves the client on the accepting thread itself: while one client is served, the next is not even accepted.
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
    serve_client(stream, peer, shutdown);
    active.fetch_sub(1, Ordering::SeqCst);
    None
}
