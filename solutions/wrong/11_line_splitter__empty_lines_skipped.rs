// WRONG (boundary) breaks 3: skips empty messages ("nothing to answer"): a `\n` alone is no message.
fn take_messages(pending: &mut Vec<u8>, received: &[u8]) -> Vec<Vec<u8>> {
    // The new bytes continue whatever was waiting: a message may have begun reads ago.
    pending.extend_from_slice(received);
    let mut messages = Vec::new();
    // Every `\n` in `pending` ends a message; what follows the last one stays for later.
    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
        let mut message: Vec<u8> = pending.drain(..=end).collect();
        message.pop(); // the `\n`
        if !message.is_empty() {
            messages.push(message);
        }
    }
    messages
}
