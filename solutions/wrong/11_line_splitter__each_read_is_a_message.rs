// WRONG (protocol form) breaks 0: takes each read for one whole message, the belief chapter 11 disproves.
fn take_messages(pending: &mut Vec<u8>, received: &[u8]) -> Vec<Vec<u8>> {
    // Each read is one message (as the client wrote it): drop its `\n`.
    let _ = pending;
    let message = received.strip_suffix(b"\n").unwrap_or(received);
    vec![message.to_vec()]
}
