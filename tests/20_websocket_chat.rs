//! Tests of `examples/20_websocket_chat.rs`, over real sockets with a WebSocket client written
//! here frame by frame (so the tests see every byte), and with tungstenite as a second,
//! independent client: the handshake (RFC 6455's own example key), the page and its refusals,
//! frames split at every byte, the three length forms, fragmentation with a ping between the
//! fragments, ping/pong both ways (the heartbeat), the close handshake, every limit (a frame or
//! message too big, refused before allocation; unmasked and malformed frames; a handshake that
//! never ends), chapter 14's rules (a member that stops reading is dropped; text made inert),
//! `nc` and browser members in one room, and Ctrl-C with WebSockets open.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{Member, Proc, TIMEOUT, connect};
use socket2::{Domain, Socket, Type};

const EXAMPLE: &str = "20_websocket_chat";

/// Starts the server on two free ports: (the process, the web address, the `nc` address).
fn server(extra: &[&str]) -> (Proc, SocketAddr, SocketAddr) {
    let mut args = vec!["--addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let (proc, web) = Proc::server(EXAMPLE, &args);
    let line = proc.wait_for_line("nc members: nc ");
    let (ip, port) = line["nc members: nc ".len()..].split_once(' ').unwrap();
    let nc = format!("{ip}:{port}").parse().unwrap();
    (proc, web, nc)
}

// Opcodes.
const CONT: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// RFC 6455 §1.3's example: this key must be answered with that accept value.
const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade_request(addr: SocketAddr, extra: &str) -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {RFC_KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Sends `request` and reads the whole answer up to the end of the stream.
fn http(addr: SocketAddr, request: &str) -> String {
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8(answer).unwrap()
}

/// A frame as it arrived: FIN, opcode, the length form used (the 7-bit field's value:
/// the length itself, 126 or 127), whether it was masked, and the payload.
#[derive(Debug)]
struct Frame {
    fin: bool,
    opcode: u8,
    form: u8,
    masked: bool,
    payload: Vec<u8>,
}

/// A WebSocket client made by hand, so that the tests control and see every byte.
struct Ws {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    masks: u32,
}

impl Ws {
    /// Connects and completes the handshake, checking the server's answer byte for byte.
    fn connect(addr: SocketAddr) -> Ws {
        Ws::connect_on(connect(addr), addr)
    }

    fn connect_on(mut stream: TcpStream, addr: SocketAddr) -> Ws {
        stream
            .write_all(upgrade_request(addr, "").as_bytes())
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {RFC_ACCEPT}\r\n\r\n"
            )
        );
        Ws {
            stream,
            reader,
            masks: 0x9e37_79b9,
        }
    }

    /// Connects, reads the welcome, sends `nick`; returns the answer.
    fn join(addr: SocketAddr, nick: &str) -> (Ws, String) {
        let mut ws = Ws::connect(addr);
        assert_eq!(ws.text(), "* welcome! your nickname?");
        ws.send_text(nick);
        let hello = ws.text();
        (ws, hello)
    }

    /// A frame as a client sends it: masked with a key that changes every frame.
    fn encode(&mut self, fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        self.masks = self.masks.rotate_left(7).wrapping_mul(2_654_435_761) | 1;
        let mask = self.masks.to_be_bytes();
        let mut frame = encode_header(fin, opcode, payload.len() as u64, Some(mask));
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let frame = self.encode(fin, opcode, payload);
        self.stream.write_all(&frame).unwrap();
    }

    fn send_text(&mut self, text: &str) {
        self.send(true, TEXT, text.as_bytes());
    }

    /// The next frame, whatever it is.
    fn frame(&mut self) -> Frame {
        let r = &mut self.reader;
        let mut head = [0u8; 2];
        r.read_exact(&mut head).expect("no frame from the server");
        let form = head[1] & 0x7F;
        let len = match form {
            126 => {
                let mut ext = [0u8; 2];
                r.read_exact(&mut ext).unwrap();
                u16::from_be_bytes(ext) as u64
            }
            127 => {
                let mut ext = [0u8; 8];
                r.read_exact(&mut ext).unwrap();
                u64::from_be_bytes(ext)
            }
            n => n as u64,
        };
        let masked = head[1] & 0x80 != 0;
        assert!(len < 1 << 24, "a frame of {len} bytes from the server");
        let mut payload = vec![0u8; len as usize];
        r.read_exact(&mut payload).unwrap();
        Frame {
            fin: head[0] & 0x80 != 0,
            opcode: head[0] & 0x0F,
            form,
            masked,
            payload,
        }
    }

    /// The next text message (the server's pings, if any, are skipped).
    fn text(&mut self) -> String {
        loop {
            let frame = self.frame();
            match frame.opcode {
                PING => continue,
                TEXT => {
                    assert!(frame.fin && !frame.masked, "{frame:?}");
                    return String::from_utf8(frame.payload).unwrap();
                }
                _ => panic!("expected a text frame, got {frame:?}"),
            }
        }
    }

    /// The next close frame's code and reason, skipping text and pings before it.
    fn close_frame(&mut self) -> (u16, String) {
        loop {
            let frame = self.frame();
            match frame.opcode {
                PING | TEXT => continue,
                CLOSE => {
                    let code =
                        u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
                    let reason =
                        String::from_utf8(frame.payload[2..].to_vec()).unwrap();
                    return (code, reason);
                }
                _ => panic!("expected a close frame, got {frame:?}"),
            }
        }
    }

    /// Whether the server then ends the TCP connection (end of stream, or a reset).
    fn ends(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(err) => err.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// A frame header: FIN and opcode, the length in its shortest form, the mask if any.
fn encode_header(fin: bool, opcode: u8, len: u64, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match len {
        0..=125 => frame.push(bit | len as u8),
        126..=0xFFFF => {
            frame.push(bit | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(bit | 127);
            frame.extend_from_slice(&len.to_be_bytes());
        }
    }
    if let Some(mask) = mask {
        frame.extend_from_slice(&mask);
    }
    frame
}

#[test]
fn the_handshake_answers_rfc_6455s_example_key() {
    let (_server, web, _) = server(&[]);
    // `Ws::connect` sends §1.3's key and checks the answer byte for byte.
    let mut ws = Ws::connect(web);
    assert_eq!(ws.text(), "* welcome! your nickname?");
    // Header names and tokens in any case, and Connection with other tokens: still an
    // upgrade.
    let mut stream = connect(web);
    let request = format!(
        "GET /chat HTTP/1.1\r\nhost: {web}\r\nUPGRADE: WebSocket\r\n\
         connection: keep-alive, Upgrade\r\nsec-websocket-key: {RFC_KEY}\r\n\
         sec-websocket-version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut got = vec![0u8; 129];
    stream.read_exact(&mut got).unwrap();
    let got = String::from_utf8(got).unwrap();
    assert!(
        got.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{got}"
    );
    assert!(
        got.contains(&format!("Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n")),
        "{got}"
    );
}

#[test]
fn serves_the_page_and_its_script_and_nothing_else() {
    let (_server, web, _) = server(&[]);
    let page = http(web, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = page.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(head.contains("script-src 'self'"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    assert!(
        body.contains("<script src=\"/chat.js\"></script>"),
        "{body}"
    );

    let script = http(web, "GET /chat.js HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(script.starts_with("HTTP/1.1 200 OK\r\n"), "{script}");
    assert!(script.contains("Content-Type: text/javascript"), "{script}");
    // The page makes text of what the room sends, never markup.
    assert!(script.contains("item.textContent = text"));
    for markup in [
        ".innerHTML",
        ".outerHTML",
        "insertAdjacentHTML",
        "document.write",
    ] {
        assert!(!script.contains(markup), "the script uses {markup}");
    }

    let missing = http(web, "GET /secret HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{missing}"
    );
    let post = http(
        web,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(
        post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{post}"
    );
    assert!(post.contains("Allow: GET\r\n"), "{post}");
    let junk = http(web, "HELLO\r\n\r\n");
    assert!(junk.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{junk}");
}

#[test]
fn every_bad_upgrade_gets_one_clear_status() {
    let (server, web, _) = server(&[]);
    let no_upgrade = http(web, "GET /chat HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        no_upgrade.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{no_upgrade}"
    );
    assert!(no_upgrade.contains("Upgrade: websocket\r\n"));

    let old = upgrade_request(web, "").replace("Version: 13", "Version: 8");
    let old = http(web, &old);
    assert!(
        old.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{old}"
    );
    assert!(old.contains("Sec-WebSocket-Version: 13\r\n"), "{old}");

    for key in ["", "not base64!", "c2hvcnQ="] {
        let request = upgrade_request(web, "").replace(RFC_KEY, key);
        let answer = http(web, &request);
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{key:?}: {answer}"
        );
    }

    // Another web site's page: refused (cross-site WebSocket hijacking).
    let foreign = http(
        web,
        &upgrade_request(web, "Origin: http://evil.example\r\n"),
    );
    assert!(
        foreign.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{foreign}"
    );
    server.wait_for_line("a page from another origin: http://evil.example");
    // The server's own page: accepted.
    let own = format!("Origin: http://{web}\r\n");
    let mut stream = connect(web);
    stream
        .write_all(upgrade_request(web, &own).as_bytes())
        .unwrap();
    let mut got = [0u8; 34];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"HTTP/1.1 101 Switching Protocols\r\n");

    // A head over 8 KiB: 431, after reading at most a little over the limit.
    let huge = upgrade_request(web, &format!("X-Filler: {}\r\n", "a".repeat(9000)));
    let answer = http(web, &huge);
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
}

#[test]
fn a_handshake_trickled_a_byte_at_a_time_is_cut_at_the_deadline() {
    let (server, web, _) = server(&["--handshake-timeout", "1"]);
    let mut slow = connect(web);
    let request = upgrade_request(web, "");
    let started = Instant::now();
    let trickle = thread::spawn(move || {
        // One byte every 100 ms: every read returns within any per-read timeout, but the
        // request would take 15 s to arrive.
        for byte in request.as_bytes() {
            if slow.write_all(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        slow
    });
    // Meanwhile the page is served at once: the trickler holds one thread, nothing more.
    let page = http(web, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK"));
    server.wait_for_line("refused: 127.0.0.1:");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "cut after {waited:?}");
    assert!(waited < Duration::from_secs(5), "cut after {waited:?}");
    let mut slow = trickle.join().unwrap();
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("no complete request within 1 s\n"),
        "{answer}"
    );
}

#[test]
fn frames_split_at_every_byte_arrive_whole() {
    let (_server, web, nc) = server(&[]);
    let (mut bob, _) = Member::join(nc, "bob");
    let mut stream = connect(web);
    stream.set_nodelay(true).unwrap();
    // The handshake split at every byte too.
    let request = upgrade_request(web, "");
    for byte in request.as_bytes() {
        stream.write_all(&[*byte]).unwrap();
    }
    let mut ada = Ws::connect_on_answer(stream);
    assert_eq!(ada.text(), "* welcome! your nickname?");
    fn send_split(ws: &mut Ws, text: &str) {
        let frame = ws.encode(true, TEXT, text.as_bytes());
        for byte in frame {
            ws.stream.write_all(&[byte]).unwrap();
            thread::sleep(Duration::from_millis(1));
        }
    }
    send_split(&mut ada, "ada");
    assert_eq!(ada.text(), "* hello ada; here: bob");
    assert_eq!(bob.line(), "* ada joined");
    let long = "é".repeat(100); // 200 bytes: the 16-bit length form
    send_split(&mut ada, &long);
    assert_eq!(bob.line(), format!("ada: {long}"));
}

impl Ws {
    /// For a stream on which the upgrade request was already sent: reads the 101.
    fn connect_on_answer(stream: TcpStream) -> Ws {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        while !head.ends_with("\r\n\r\n") {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).unwrap() > 0, "{head}");
            head.push_str(&line);
        }
        assert!(head.contains(RFC_ACCEPT), "{head}");
        Ws {
            stream,
            reader,
            masks: 1,
        }
    }
}

#[test]
fn all_three_length_forms_both_ways() {
    let (_server, web, _) = server(&["--max-line", "70000"]);
    let (mut ada, _) = Ws::join(web, "ada");
    let (mut bob, _) = Ws::join(web, "bob");
    assert_eq!(ada.text(), "* bob joined");
    // What bob receives is "ada: " + the message: 5 bytes more.
    for (len, form) in [
        (0, 5u8),
        (120, 125),
        (121, 126),
        (65530, 126),
        (65531, 127),
        (69000, 127),
    ] {
        let text = "x".repeat(len);
        ada.send_text(&text);
        let frame = bob.frame();
        assert_eq!(frame.opcode, TEXT);
        assert!(frame.fin && !frame.masked);
        assert_eq!(frame.form, form, "a message of {} bytes", len + 5);
        assert_eq!(frame.payload, format!("ada: {text}").as_bytes());
    }
}

#[test]
fn a_fragmented_message_is_put_together_with_a_ping_between_fragments() {
    let (_server, web, nc) = server(&[]);
    let (mut bob, _) = Member::join(nc, "bob");
    let (mut ada, _) = Ws::join(web, "ada");
    assert_eq!(bob.line(), "* ada joined");
    ada.send(false, TEXT, b"frag");
    ada.send(true, PING, b"between"); // a control frame may come between fragments
    ada.send(false, CONT, "ments, ".as_bytes());
    ada.send(true, CONT, "réassemblés".as_bytes());
    let pong = ada.frame();
    assert_eq!((pong.opcode, pong.fin, pong.masked), (PONG, true, false));
    assert_eq!(pong.payload, b"between");
    assert_eq!(bob.line(), "ada: fragments, réassemblés");
    // A character split between two fragments is fine: UTF-8 is checked on the whole.
    let bytes = "ü".as_bytes();
    ada.send(false, TEXT, &bytes[..1]);
    ada.send(true, CONT, &bytes[1..]);
    assert_eq!(bob.line(), "ada: ü");
}

#[test]
fn pings_are_answered_and_a_silent_browser_is_dropped_by_the_heartbeat() {
    let (server, web, nc) = server(&["--ping-interval", "0.5"]);
    let (mut bob, _) = Member::join(nc, "bob");
    let (mut ada, _) = Ws::join(web, "ada");
    assert_eq!(bob.line(), "* ada joined");
    let (mut talker, _) = Member::join(nc, "talker");
    assert_eq!(bob.line(), "* talker joined");
    ada.send(true, PING, b"are you there?");
    // The server's own pings come every 0.5 s, however busy the room (a talker sends a
    // line every 20 ms); answering them keeps ada, who only listens, in the room.
    let talking = thread::spawn(move || {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            talker.say("busy");
            thread::sleep(Duration::from_millis(20));
        }
        talker
    });
    let started = Instant::now();
    let mut pings = 0;
    let mut pong_seen = false;
    while started.elapsed() < Duration::from_secs(3) {
        let frame = ada.frame();
        match frame.opcode {
            PONG => {
                assert_eq!(frame.payload, b"are you there?");
                pong_seen = true;
            }
            PING => {
                pings += 1;
                let payload = frame.payload.clone();
                ada.send(true, PONG, &payload);
            }
            TEXT => assert!(
                frame.payload == b"talker: busy" || frame.payload.starts_with(b"* ")
            ),
            _ => panic!("{frame:?}"),
        }
    }
    let _talker = talking.join().unwrap();
    assert!(pong_seen);
    assert!(pings >= 3, "{pings} pings in 3 s at 0.5 s");
    // Now ada stops answering (a tab whose machine went to sleep): dropped after three
    // intervals without a frame.
    let silent = Instant::now();
    server.wait_for_line("dropped: ada (no sign of life for 1.5 s)");
    let notice = loop {
        let line = bob.line();
        if line != "talker: busy" {
            break line;
        }
    };
    assert_eq!(notice, "* ada was disconnected (no heartbeat)");
    let after = silent.elapsed();
    assert!(after >= Duration::from_millis(1000), "{after:?}");
    assert!(after < Duration::from_secs(6), "{after:?}");
}

#[test]
fn the_close_handshake_is_answered_then_the_server_closes() {
    let (server, web, nc) = server(&[]);
    let (mut bob, _) = Member::join(nc, "bob");
    let (mut ada, _) = Ws::join(web, "ada");
    assert_eq!(bob.line(), "* ada joined");
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    ada.send(true, CLOSE, &close);
    let frame = ada.frame();
    assert_eq!(
        (frame.opcode, frame.fin, frame.masked),
        (CLOSE, true, false)
    );
    assert_eq!(frame.payload, 1000u16.to_be_bytes(), "the code echoed");
    assert!(
        ada.ends(),
        "the server closes the TCP connection after the close frames"
    );
    assert_eq!(bob.line(), "* ada left");
    server.wait_for_line("left: ada");

    // The server closes first (/quit): a close frame, then it waits for ours.
    let (mut cy, _) = Ws::join(web, "cy");
    assert_eq!(bob.line(), "* cy joined");
    cy.send_text("/quit");
    assert_eq!(cy.close_frame(), (1000, "bye".to_string()));
    cy.send(true, CLOSE, &1000u16.to_be_bytes());
    assert!(cy.ends());
    assert_eq!(bob.line(), "* cy left");
}

#[test]
fn an_oversized_frame_is_refused_before_allocation_with_1009() {
    let (server, web, nc) = server(&[]);
    let (mut bob, _) = Member::join(nc, "bob");
    // Each length form, announcing more than --max-line (1024): only the header is sent,
    // so an answer proves the server decided before reading (or allocating) the payload.
    for len in [1025u64, 1 << 40, (1 << 63) - 1] {
        let (mut ada, _) = Ws::join(web, "ada");
        assert_eq!(bob.line(), "* ada joined");
        let header = encode_header(true, TEXT, len, Some([1, 2, 3, 4]));
        ada.stream.write_all(&header).unwrap();
        assert_eq!(ada.close_frame(), (1009, "a frame over 1024 bytes".into()));
        ada.send(true, CLOSE, &1009u16.to_be_bytes());
        assert!(ada.ends());
        assert_eq!(
            bob.line(),
            "* ada was disconnected (a frame over 1024 bytes)"
        );
    }
    // Fragments each within the limit, over it together.
    let (mut ada, _) = Ws::join(web, "ada");
    assert_eq!(bob.line(), "* ada joined");
    ada.send(false, TEXT, &[b'a'; 1000]);
    ada.send(true, CONT, &[b'b'; 100]);
    assert_eq!(
        ada.close_frame(),
        (1009, "a message over 1024 bytes".into())
    );
    assert_eq!(
        bob.line(),
        "* ada was disconnected (a message over 1024 bytes)"
    );
    // The server is still well, and small.
    let rss = common::rss_kib(server.pid());
    assert!(rss < 64 * 1024, "{rss} KiB");
    let (_, hello) = Ws::join(web, "cy");
    assert_eq!(hello, "* hello cy; here: bob");
}

#[test]
fn unmasked_and_malformed_frames_fail_the_connection_with_their_code() {
    let (_server, web, nc) = server(&[]);
    let (mut bob, _) = Member::join(nc, "bob");
    let unmasked = {
        let mut frame = encode_header(true, TEXT, 2, None);
        frame.extend_from_slice(b"hi");
        frame
    };
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (unmasked, 1002, "a client frame that is not masked"),
        (vec![0xC1, 0x80, 0, 0, 0, 0], 1002, "reserved bits set"),
        (vec![0x83, 0x80, 0, 0, 0, 0], 1002, "unknown opcode 0x3"),
        (
            vec![0x09, 0x80, 0, 0, 0, 0],
            1002,
            "a fragmented or long control frame",
        ),
        (
            encode_header(true, PING, 126, Some([0; 4])),
            1002,
            "a fragmented or long control frame",
        ),
        (
            vec![0x80, 0x81, 0, 0, 0, 0, b'x'],
            1002,
            "a continuation with no message to continue",
        ),
        (
            vec![0x82, 0x81, 0, 0, 0, 0, 7],
            1003,
            "a binary message (this room takes text)",
        ),
        (
            vec![0x81, 0x81, 0, 0, 0, 0, 0xFF],
            1007,
            "a text message not UTF-8",
        ),
        (
            encode_header(true, CLOSE, 127, Some([0; 4]))[..2].to_vec(),
            1002,
            "a fragmented or long control frame",
        ),
    ];
    for (bytes, code, why) in cases {
        let (mut ada, _) = Ws::join(web, "ada");
        assert_eq!(bob.line(), "* ada joined");
        ada.stream.write_all(&bytes).unwrap();
        assert_eq!(ada.close_frame(), (code, why.to_string()), "{bytes:02x?}");
        assert_eq!(bob.line(), format!("* ada was disconnected ({why})"));
    }
    // A new message inside a fragmented one.
    let (mut ada, _) = Ws::join(web, "ada");
    assert_eq!(bob.line(), "* ada joined");
    ada.send(false, TEXT, b"one");
    ada.send(true, TEXT, b"two");
    let why = "a new message inside a fragmented one";
    assert_eq!(ada.close_frame(), (1002, why.to_string()));
    let _ = BINARY;
}

/// A connection with a small receive buffer (SO_RCVBUF turns off Linux's autotuning), for a
/// member that never reads.
fn small_buffer_socket(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect_timeout(&addr.into(), TIMEOUT).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket.set_write_timeout(Some(TIMEOUT)).unwrap();
    socket.into()
}

#[test]
fn a_browser_that_never_reads_is_dropped_while_the_room_goes_on() {
    let (server, web, nc) = server(&["--stall-timeout", "1"]);
    // The hog joins, then never reads again.
    let mut hog = Ws::connect_on(small_buffer_socket(web), web);
    assert_eq!(hog.text(), "* welcome! your nickname?");
    hog.send_text("hog");
    assert!(hog.text().starts_with("* hello hog"));
    let (mut listener, _) = Ws::join(web, "listener");
    let (mut talker, _) = Member::join(nc, "talker");
    assert_eq!(listener.text(), "* talker joined");
    const LINES: usize = 3000;
    let talking = thread::spawn(move || {
        for n in 0..LINES {
            talker.say(&format!("{n:04} {}", "x".repeat(480)));
        }
        talker
    });
    let started = Instant::now();
    let mut notices = Vec::new();
    let mut n = 0;
    while n < LINES {
        let line = listener.text();
        if line.starts_with('*') {
            notices.push(line);
            continue;
        }
        assert_eq!(line, format!("talker: {n:04} {}", "x".repeat(480)));
        n += 1;
    }
    let _talker = talking.join().expect("the talker could not send");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(notices, ["* hog was disconnected (not reading)"]);
    server.wait_for_line("dropped: hog (not reading: ");
}

#[test]
fn html_and_control_characters_from_a_browser_reach_everyone_as_inert_text() {
    let (_server, web, nc) = server(&[]);
    let (mut bob, _) = Member::join(nc, "bob");
    let (mut cy, _) = Ws::join(web, "cy");
    let (mut ada, _) = Ws::join(web, "ada");
    assert_eq!(bob.line(), "* cy joined");
    assert_eq!(bob.line(), "* ada joined");
    assert_eq!(cy.text(), "* ada joined");
    // Markup for the page, and a newline that would forge a line from bob in nc.
    ada.send_text("<img src=x onerror=alert(1)>\nbob: send me your password\x1b[2K");
    let shown =
        r"ada: <img src=x onerror=alert(1)>\nbob: send me your password\u{1b}[2K";
    assert_eq!(bob.line(), shown);
    assert_eq!(cy.text(), shown); // the page shows it with textContent (the browser test)
    // And from nc to the browser, the same.
    bob.say("<script>alert(2)</script>\x07");
    assert_eq!(ada.text(), r"bob: <script>alert(2)</script>\u{7}");
}

#[test]
fn nc_and_browser_members_chat_in_one_room() {
    let (server, web, nc) = server(&[]);
    let (mut bob, hello) = Member::join(nc, "bob");
    assert_eq!(hello, "* hello bob; here: nobody yet");
    let (mut ada, hello) = Ws::join(web, "ada");
    assert_eq!(hello, "* hello ada; here: bob");
    assert_eq!(bob.line(), "* ada joined");
    server.wait_for_line("joined: ada (browser, 127.0.0.1:");
    server.wait_for_line("joined: bob (nc, 127.0.0.1:");
    ada.send_text("hi bob, from a browser");
    assert_eq!(bob.line(), "ada: hi bob, from a browser");
    bob.say("hi ada, from nc");
    assert_eq!(ada.text(), "bob: hi ada, from nc");
    ada.send_text("/who");
    assert_eq!(ada.text(), "* here: ada, bob");
    // One nickname space: a browser cannot take a nickname nc has.
    let mut other = Ws::connect(web);
    assert_eq!(other.text(), "* welcome! your nickname?");
    other.send_text("bob");
    assert_eq!(other.text(), "* nickname bob is taken");
    assert_eq!(other.close_frame(), (1000, "nickname bob is taken".into()));
    // A member that leaves without a close frame (the tab crashed) leaves all the same.
    drop(ada);
    assert_eq!(bob.line(), "* ada left");
}

#[test]
fn a_browser_that_sends_no_nickname_is_closed_at_the_deadline() {
    let (_server, web, _) = server(&["--nick-timeout", "1"]);
    let mut ws = Ws::connect(web);
    let started = Instant::now();
    assert_eq!(ws.text(), "* welcome! your nickname?");
    assert_eq!(ws.text(), "* no nickname within 1 s: goodbye");
    assert_eq!(
        ws.close_frame(),
        (1000, "no nickname within 1 s: goodbye".into())
    );
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(5));
    ws.send(true, CLOSE, &1000u16.to_be_bytes());
    assert!(ws.ends());
}

#[cfg(unix)]
#[test]
fn ctrl_c_with_open_websockets_sends_1001_and_exits_0() {
    let (server, web, nc) = server(&[]);
    let (mut bob, _) = Member::join(nc, "bob");
    let (mut ada, _) = Ws::join(web, "ada");
    let (mut cy, _) = Ws::join(web, "cy");
    assert_eq!(bob.line(), "* ada joined");
    assert_eq!(bob.line(), "* cy joined");
    assert_eq!(ada.text(), "* cy joined");
    // Someone still in the handshake, and someone who has not said their nickname.
    let mut half = connect(web);
    half.write_all(b"GET /chat HTTP/1.1\r\n").unwrap();
    let mut unnamed = Ws::connect(web);
    assert_eq!(unnamed.text(), "* welcome! your nickname?");
    let started = Instant::now();
    server.sigint();
    for ws in [&mut ada, &mut cy] {
        assert_eq!(ws.text(), "* server shutting down");
        assert_eq!(ws.close_frame(), (1001, "server shutting down".into()));
    }
    // Ada answers the close; cy does not (the server does not wait for it for ever).
    ada.send(true, CLOSE, &1001u16.to_be_bytes());
    assert!(ada.ends());
    assert_eq!(unnamed.close_frame(), (1001, "server shutting down".into()));
    assert_eq!(bob.line(), "* server shutting down");
    assert!(bob.closed());
    let finished = server.wait(TIMEOUT);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(finished.stdout.last().unwrap(), "shutting down: done");
    assert!(cy.ends());
    let mut rest = Vec::new();
    let _ = half.read_to_end(&mut rest);
}

#[test]
fn tungstenite_as_a_client_chats_pings_and_closes_cleanly() {
    use tungstenite::{
        Message, client, protocol::CloseFrame, protocol::frame::coding::CloseCode,
    };
    let (server, web, nc) = server(&[]);
    let (mut bob, _) = Member::join(nc, "bob");
    let (mut ws, response) = client(format!("ws://{web}/chat"), connect(web))
        .expect("tungstenite's handshake with our server");
    assert_eq!(response.status(), 101);
    let mut text = || match ws.read().expect("a message from our server") {
        Message::Text(text) => text.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(text(), "* welcome! your nickname?");
    ws.send(Message::text("tung")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("* hello tung; here: bob"));
    assert_eq!(bob.line(), "* tung joined");
    // A longer message: tungstenite picks the 16-bit length form, and masks it.
    ws.send(Message::text("y".repeat(1000))).unwrap();
    assert_eq!(bob.line(), format!("tung: {}", "y".repeat(1000)));
    bob.say("hello, tungstenite");
    assert_eq!(ws.read().unwrap(), Message::text("bob: hello, tungstenite"));
    ws.send(Message::Ping(b"p".to_vec().into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"p".to_vec().into()));
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    }))
    .unwrap();
    // tungstenite reads our close reply and reports the connection closed: a clean close.
    loop {
        match ws.read() {
            Ok(Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::Normal)
            }
            Ok(other) => panic!("{other:?}"),
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(err) => panic!("not a clean close: {err}"),
        }
    }
    assert_eq!(bob.line(), "* tung left");
    server.wait_for_line("left: tung");
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["--tcp-addr", "127.0.0.1:0"]);
}

#[test]
fn a_frame_cut_by_the_end_of_the_stream_or_a_reset_is_not_sent() {
    let (server, web, nc) = server(&[]);
    let (mut bob, _) = Member::join(nc, "bob");
    let (mut ada, _) = Ws::join(web, "ada");
    assert_eq!(bob.line(), "* ada joined");
    let frame = ada.encode(true, TEXT, b"half a message");
    ada.stream.write_all(&frame[..10]).unwrap();
    ada.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(
        bob.line(),
        "* ada left",
        "half a frame must not reach anyone"
    );
    server.wait_for_line("lost: ada (");

    let (cy, _) = Ws::join(web, "cy");
    assert_eq!(bob.line(), "* cy joined");
    let mut cy = cy;
    let frame = cy.encode(true, TEXT, b"half a message");
    cy.stream.write_all(&frame[..10]).unwrap();
    thread::sleep(Duration::from_millis(100)); // let the bytes arrive before the reset
    // Linger 0: close sends a reset (RST) instead of an orderly end (FIN).
    socket2::SockRef::from(&cy.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(cy);
    assert_eq!(bob.line(), "* cy left");
    server.wait_for_line("lost: cy (connection reset by peer");
    bob.say("/who");
    assert_eq!(bob.line(), "* here: bob");
}

#[cfg(unix)]
#[test]
fn ctrl_c_under_a_flood_with_a_browser_that_never_reads_exits_within_seconds() {
    let (server, web, nc) = server(&[]);
    let mut hog = Ws::connect_on(small_buffer_socket(web), web);
    assert_eq!(hog.text(), "* welcome! your nickname?");
    hog.send_text("hog");
    assert!(hog.text().starts_with("* hello hog"));
    let (mut listener, _) = Ws::join(web, "listener");
    let (mut talker, _) = Member::join(nc, "talker");
    assert_eq!(listener.text(), "* talker joined");
    // The talker floods until the server goes; the listener reads; the hog never reads.
    let flooding = thread::spawn(move || {
        let line = format!("{}\n", "x".repeat(500));
        while talker.stream.write_all(line.as_bytes()).is_ok() {}
    });
    let reading = thread::spawn(move || {
        while listener.reader.read(&mut [0u8; 65536]).is_ok_and(|n| n > 0) {}
    });
    thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    server.sigint();
    let finished = server.wait(TIMEOUT);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    flooding.join().unwrap();
    reading.join().unwrap();
}

/// Chapter 14's attack on its room (issue 24), on this room through its `nc` port: a fresh
/// member that never reads joins every second while a flooder talks. The room must punish
/// the member that stopped, not everyone: an honest reader keeps getting the talker's lines,
/// promptly and in order.
#[test]
fn a_stream_of_fresh_non_readers_does_not_freeze_the_room() {
    let (_server, _web, nc) = server(&["--stall-timeout", "4"]);
    let (gap, prompt, complete) = common::fresh_non_readers_against_the_room(nc);
    eprintln!(
        "largest gap {gap:?}; {:.0}% of lines within 1 s",
        prompt * 100.0
    );
    assert!(complete, "the honest reader lost or reordered lines");
    assert!(gap < Duration::from_secs(2), "a gap of {gap:?}");
    assert!(
        prompt > 0.8,
        "only {:.0}% of lines within 1 s",
        prompt * 100.0
    );
}
