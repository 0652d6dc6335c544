// WRONG (protocol form) breaks 0: takes out one message per read, so messages merged into one read are answered late, or never.
fn take_messages(pending: &mut Vec<u8>, received: &[u8]) -> Vec<Vec<u8>> {
    // The new bytes continue whatever was waiting: a message may have begun reads ago.
    pending.extend_from_slice(received);
    // One read, one message: the first `\n` ends it; the rest waits for the next read.
    match pending.iter().position(|&b| b == b'\n') {
        Some(end) => {
            let mut message: Vec<u8> = pending.drain(..=end).collect();
            message.pop(); // the `\n`
            vec![message]
        }
        None => Vec::new(),
    }
}
