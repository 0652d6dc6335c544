// WRONG (timing) breaks 2: counts each client's datagrams forever: after its first `limit`, a client is never answered again.
impl RateLimiter {
    fn allow(&mut self, peer: SocketAddr, now: Instant) -> bool {
        // Each client's count, since its first datagram.
        let client = self.clients.entry(peer).or_insert(Window {
            started: now,
            answered: 0,
        });
        if client.answered < self.limit {
            client.answered += 1;
            true
        } else {
            false
        }
    }
}
