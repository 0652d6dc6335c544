// WRONG (timing) breaks 2: every datagram, refused ones too, moves the window's start: a client that keeps sending is never answered again.
impl RateLimiter {
    fn allow(&mut self, peer: SocketAddr, now: Instant) -> bool {
        // Forget the clients whose window has ended, once per window: memory stays
        // proportional to the clients of about the last second, not of all time.
        if now.duration_since(self.last_sweep) >= self.window {
            let window = self.window;
            self.clients
                .retain(|_, w| now.duration_since(w.started) < window);
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
        let allowed = client.answered < self.limit;
        client.started = now;
        if allowed {
            client.answered += 1;
            true
        } else {
            false
        }
    }
}
