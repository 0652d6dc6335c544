// WRONG (protocol form) breaks 1: returns each message with its `\n` still on it.
fn take_messages(pending: &mut Vec<u8>, received: &[u8]) -> Vec<Vec<u8>> {
    // The new bytes continue whatever was waiting: a message may have begun reads ago.
    pending.extend_from_slice(received);
    let mut messages = Vec::new();
    // Every `\n` in `pending` ends a message; what follows the last one stays for later.
    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
        let mut message: Vec<u8> = pending.drain(..=end).collect();
        messages.push(message);
    }
    messages
}
