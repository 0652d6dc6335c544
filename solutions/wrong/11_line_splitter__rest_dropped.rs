// WRONG (protocol form) breaks 0: splits each read at its newlines and drops the bytes after the last one: a message cut by a read is lost.
fn take_messages(pending: &mut Vec<u8>, received: &[u8]) -> Vec<Vec<u8>> {
    // Every `\n` in what this read returned ends a message.
    let _ = pending;
    let mut messages: Vec<Vec<u8>> = received
        .split(|&b| b == b'\n')
        .map(|line| line.to_vec())
        .collect();
    // What follows the last `\n` is not a whole message: leave it out.
    messages.pop();
    messages
}
