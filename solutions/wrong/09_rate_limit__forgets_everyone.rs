// WRONG (timing) breaks 1, 4: the sweep forgets every client, windows still running too: a flooder gets a fresh window at each sweep.
impl RateLimiter {
    fn allow(&mut self, peer: SocketAddr, now: Instant) -> bool {
        // Forget the clients whose window has ended, once per window: memory stays
        // proportional to the clients of about the last second, not of all time.
        if now.duration_since(self.last_sweep) >= self.window {
            let window = self.window;
            let _ = window;
            self.clients.clear();
            self.last_sweep = now;
        }
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
