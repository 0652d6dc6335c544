// WRONG (resource) breaks 0: never forgets a client: memory grows with every address that ever sent a datagram.
impl RateLimiter {
    /// Decides whether the datagram that `peer` sent at `now` is answered, and counts it if so.
    ///
    /// Given: `self.clients`, the window of each client seen lately; `self.limit` and
    /// `self.window` (1 s); `self.last_sweep`.
    ///
    /// Must hold:
    /// - a client's window begins with its first datagram, and lasts `self.window`; in it, the
    ///   first `self.limit` datagrams are allowed (`true`), the rest refused (`false`);
    /// - a datagram that comes after the client's window has ended begins a new window: the
    ///   client is answered again;
    /// - each client address has its own window: one client's flood never costs another
    ///   client its answers;
    /// - memory stays bounded: a client whose window has ended is forgotten, at the latest
    ///   about a window later (a server that sees a million addresses in a day must not keep
    ///   them all).
    ///
    /// Hints, one at a time:
    /// 1. `self.clients.entry(peer).or_insert(Window { started: now, answered: 0 })` finds or
    ///    makes the client's window in one lookup.
    /// 2. If `now - window.started >= self.window`, start the window again at `now`, with 0
    ///    answered. Then: allowed if `answered < limit` (and then `answered += 1`).
    /// 3. Forgetting: once per window (`now - self.last_sweep >= self.window`),
    ///    `self.clients.retain(…)` the clients whose window is still running, and set
    ///    `last_sweep`. Sweeping on every datagram would also work, at the price of a pass over
    ///    every client each time.
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
