// WRONG (resource) breaks 4: never forgets a client: memory grows with every address that ever sent a datagram.
impl RateLimiter {
    fn allow(&mut self, peer: SocketAddr, now: Instant) -> bool {
        // Every client keeps its window: it may come back.
        let client = self.clients.entry(peer).or_insert(Window {
            started: now,
            answered: 0,
        });
        // The client's window is over: this datagram begins the next one.
        if now.duration_since(client.started) >= self.window {
            *client = Window {
                started: now,
                answered: 0,
            };
        }
        if client.answered < self.limit {
            client.answered += 1;
            true
        } else {
            false
        }
    }
}
