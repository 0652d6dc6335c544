//! Untrusted text shown to people (chapter 14): a chat line, a file name, a reply from a
//! server can carry control characters that a terminal obeys, so a peer could clear a line,
//! move the cursor or retitle the window. [`inert`] shows them instead. Chapter 14 teaches it;
//! chapter 18's chat room uses the same rule.

use std::borrow::Cow;

// ANCHOR: inert
/// Untrusted text, made safe to show on a terminal: every control character (C0 such
/// as CR, ESC, NUL and BEL; DEL; the C1 range U+0080–U+009F) is shown as a Rust escape
/// (`\r`, `\u{1b}`, …) instead of being sent on for the reader's terminal to obey.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            shown.extend(c.escape_debug());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}
// ANCHOR_END: inert

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(inert("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            inert("x\r\x1b[2Kalice: hi\x07\u{9b}"),
            r"x\r\u{1b}[2Kalice: hi\u{7}\u{9b}"
        );
    }
}
