// WRONG (protocol form) breaks 2: empties `pending` only when a read ends with `\n`: a read that ends inside a message leaves the messages before it in `pending`, and they are returned again.
fn take_messages(pending: &mut Vec<u8>, received: &[u8]) -> Vec<Vec<u8>> {
    // The new bytes continue whatever was waiting: a message may have begun reads ago.
    pending.extend_from_slice(received);
    let mut messages = Vec::new();
    // Every `\n` in `pending` ends a message; what follows the last one stays for later.
    let mut start = 0;
    for (i, &b) in pending.iter().enumerate() {
        if b == b'\n' {
            messages.push(pending[start..i].to_vec());
            start = i + 1;
        }
    }
    if pending.last() == Some(&b'\n') {
        pending.clear();
    }
    messages
}
