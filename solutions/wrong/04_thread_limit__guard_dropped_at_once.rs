// WRONG (lock scope) breaks 1: `let _ = place;` in the thread: `_` binds nothing, so the place is given back at once, not when the client leaves: every client is served.
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
    struct Place(Arc<AtomicUsize>);
    impl Drop for Place {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let place = Place(Arc::clone(active));
    let shutdown = shutdown.clone();
    thread::Builder::new()
        .name(format!("client {peer}"))
        .spawn(move || {
            let _ = place;
            serve_client(stream, peer, &shutdown);
        })
        .ok()
}
