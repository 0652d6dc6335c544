// WRONG (protocol form) breaks 1: takes the head and clears `pending`: the requests pipelined after it are lost.
/// Reads the next request head: every byte up to and including the first `\r\n\r\n`.
///
/// Given: `stream`, the client's socket (no read timeout set: setting it is up to you);
/// `pending`, the bytes received and not taken yet (empty, or the start of this head, or this
/// head and more: a pipeline); `max_head`, the largest head accepted, its `\r\n\r\n` included;
/// `time`, how long the whole head may take, from this call. `end_of_head(bytes)` finds where
/// a head ends; `READ_SIZE` is a good size for each read.
///
/// Must hold:
/// 1. `Ok(head)` once the whole head is in, however the bytes were split across reads (the
///    `\r\n\r\n` itself may be split); the head is removed from `pending`, and the bytes after
///    it stay there, in order, for the next call (pipelined requests). A head already whole in
///    `pending` is returned without reading.
/// 2. A head of up to `max_head` bytes is accepted, one of exactly `max_head` included;
///    `Err(NoHead::TooLarge)` as soon as more than `max_head` bytes are in without an end of
///    head among them: at once, not when (if ever) the head ends.
/// 3. `Err(NoHead::TimedOut)` when the head has begun but is not whole within `time` of the
///    call, however often bytes arrive: a client sending a byte every 100 ms is refused at
///    the deadline, not kept for ever.
/// 4. `Err(NoHead::Closed)` when no byte of the head came before the end of the stream or the
///    deadline (an idle keep-alive connection gets no `408`), and when the stream ends in the
///    middle of a head. Other errors: `Err(NoHead::Failed(err))`.
/// 5. Waiting costs no CPU: the reads block, with the socket's read timeout set to the time
///    left (chapter 04), never a loop that polls.
///
/// Hints, one at a time:
/// 1. Loop: look in `pending` first (`end_of_head`, and the size); only then read more, and
///    append what the read returned to `pending`.
/// 2. The deadline is `Instant::now() + time`, taken once; before each read,
///    `stream.set_read_timeout(Some(left))` with `left` what remains of it. A read that times
///    out fails with `WouldBlock` (Unix) or `TimedOut` (Windows): which `NoHead` it means
///    depends on whether `pending` is empty.
/// 3. `pending.drain(..end).collect()` takes the head out and keeps the rest. Too large means:
///    no end within the first `max_head` bytes, and more than `max_head` bytes in.
fn read_head(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    max_head: usize,
    time: Duration,
) -> Result<Vec<u8>, NoHead> {
    let deadline = Instant::now() + time;
    let mut buf = [0u8; READ_SIZE];
    loop {
        // 1. What is already here: a whole head (take it, keep the rest), or too much.
        if let Some(end) = end_of_head(&pending[..pending.len().min(max_head)]) {
            let head = pending[..end].to_vec();
            pending.clear();
            return Ok(head);
        }
        if pending.len() > max_head {
            return Err(NoHead::TooLarge);
        }
        // 2. Read more, waiting no longer than the time left for the whole head.
        let left = deadline.saturating_duration_since(Instant::now());
        let timed_out = || match pending.is_empty() {
            true => NoHead::Closed,
            false => NoHead::TimedOut,
        };
        if left.is_zero() {
            return Err(timed_out());
        }
        if let Err(err) = stream.set_read_timeout(Some(left)) {
            return Err(NoHead::Failed(err));
        }
        match stream.read(&mut buf) {
            Ok(0) => return Err(NoHead::Closed),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out());
            }
            Err(err) => return Err(NoHead::Failed(err)),
        }
    }
}
