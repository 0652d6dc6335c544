//! Untrusted text shown to people (chapter 14): a chat line, a file name, a reply from a
//! server can carry control characters that a terminal obeys, so a peer could clear a line,
//! move the cursor or retitle the window; and bidirectional formatting characters that
//! reorder what the reader sees. [`inert`] shows them instead. Chapter 14 teaches it;
//! chapter 18's chat room and every client that prints what a server sent use the same rule,
//! through [`shown`], which also bounds how much of one reply is printed.

use std::borrow::Cow;

// ANCHOR: inert
/// Untrusted text, made safe to show on a terminal: every control character (C0 such
/// as CR, ESC, NUL and BEL; DEL; the C1 range U+0080–U+009F) and every bidirectional
/// formatting character is shown as a Rust escape (`\r`, `\u{1b}`, `\u{202e}`, …)
/// instead of being sent on for the reader's terminal to obey.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(obeyed) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if obeyed(c) {
            shown.extend(c.escape_debug());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// A character that a terminal or a text renderer acts on rather than draws.
///
/// `char::is_control` covers C0, DEL and C1. The bidirectional formatting characters
/// are not controls in that sense (they are "format" characters), yet they reorder the
/// text around them: `"\u{202e}txt.exe"` displays as `exe.txt`, and a line can show
/// other words than it holds ("Trojan Source", CVE-2021-42574). They are: ALM U+061C,
/// LRM and RLM U+200E–U+200F, the embeddings and overrides U+202A–U+202E, and the
/// isolates U+2066–U+2069 (Unicode Standard Annex #9, table 4).
fn obeyed(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}'..='\u{200f}' | '\u{202a}'..='\u{202e}')
        || matches!(c, '\u{2066}'..='\u{2069}')
}
// ANCHOR_END: inert

// ANCHOR: shown
/// The most of one untrusted reply that a client prints, in characters.
pub const SHOWN: usize = 1024;

/// Bytes from the network, ready to print on one line: decoded (bytes that are not
/// UTF-8 become `�`), made [`inert`], and cut after `max` characters with a note of the
/// size. A server's 4 MiB error frame is then one short line, not 4 MiB of terminal.
pub fn shown(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(max) {
        None => inert(&text).into_owned(),
        Some((cut, _)) => {
            let total = bytes.len();
            format!("{}… (cut: {total} bytes in all)", inert(&text[..cut]))
        }
    }
}
// ANCHOR_END: shown

#[cfg(test)]
mod tests {
    use super::{inert, shown};

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(inert("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            inert("x\r\x1b[2Kalice: hi\x07\u{9b}"),
            r"x\r\u{1b}[2Kalice: hi\u{7}\u{9b}"
        );
    }

    #[test]
    fn bidirectional_formatting_is_shown_not_obeyed() {
        assert_eq!(inert("\u{202e}txt.exe"), r"\u{202e}txt.exe");
        let every = [
            0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066,
            0x2067, 0x2068, 0x2069,
        ];
        for code in every {
            let c = char::from_u32(code).unwrap();
            let text = format!("a{c}b");
            assert_eq!(inert(&text), format!("a\\u{{{code:x}}}b"), "U+{code:04X}");
        }
        // Right-to-left *text* is not formatting: Arabic and Hebrew letters, and the
        // joiners some scripts need, pass unchanged.
        for text in ["שלום", "مرحبا", "क्‍ष", "👩‍💻"] {
            assert_eq!(inert(text), text);
        }
    }

    #[test]
    fn shown_text_is_inert_and_bounded() {
        assert_eq!(shown(b"ok: saved a.txt", 200), "ok: saved a.txt");
        assert_eq!(shown(b"\x1b]0;owned\x07", 200), r"\u{1b}]0;owned\u{7}");
        assert_eq!(shown(b"\xff\xfe", 200), "\u{fffd}\u{fffd}");
        let big = vec![b'x'; 4 << 20];
        let line = shown(&big, 200);
        assert!(line.len() < 300, "{} bytes", line.len());
        assert!(line.ends_with("… (cut: 4194304 bytes in all)"), "{line}");
    }
}
