//! HTTP/1.1 messages, parsed and written by hand (chapter 19): the request head read with a cap
//! and a deadline, checked line by line against RFC 9112; the body by `Content-Length`; the
//! response framed by the server (`Content-Length`, chunks, or the end of the connection),
//! `HEAD` without a body; and the status of every refusal.
//!
//! A handler (chapter 19's router, our WSGI) sees only a [`Request`] and returns a
//! [`Response`]: sockets, keep-alive and framing stay here, so a handler cannot get them wrong.
//! Owned text everywhere, for a lesson's clarity: a production parser such as `httparse` parses
//! in place instead (chapter 19 compares the two).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::time::Duration;

use crate::server::MessageDeadline;

/// The limits every connection is held to.
#[derive(Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_head: usize,
    pub max_body: u64,
}

// ANCHOR: types
/// One request, as the head and body said it. Everything is owned text: a handler
/// needs no lifetimes, and the bytes it came from are already checked.
pub struct Request {
    pub method: String,
    /// The path part of the target, still percent-encoded (`/a%20b`).
    pub path: String,
    /// What followed `?` in the target, if anything.
    pub query: Option<String>,
    pub version: Version,
    /// In the order they came; names as sent (look them up with [`Request::header`]).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// What a handler returns. The server adds the framing (`Content-Length` or chunks),
/// `Date` and `Connection`: a handler cannot get those wrong.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

pub enum Body {
    /// Known bytes: sent with `Content-Length`.
    Full(Vec<u8>),
    /// An open file of known length: streamed with `Content-Length`.
    File(File, u64),
    /// Parts produced one after another, total unknown in advance: sent chunked.
    Chunked(Box<dyn Iterator<Item = Vec<u8>> + Send>),
}

impl Request {
    /// A header's value; names are case-insensitive (RFC 9110, section 5.1).
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        found.next().map(|(_, v)| v.as_str())
    }

    /// Does `Connection` list `token` (`close`, `keep-alive`)? It is a comma-separated
    /// list, any case.
    pub fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// HTTP/1.1 keeps the connection open unless told `close`; HTTP/1.0 closes it
    /// unless told `keep-alive` (RFC 9112, section 9.3).
    pub fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.connection_has("close"),
            Version::Http10 => self.connection_has("keep-alive"),
        }
    }
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Body) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body,
        }
    }

    /// A plain-text response. Text, not HTML: nothing a client sent can become markup.
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        let body = Body::Full(text.into().into_bytes());
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    /// An error page: the status and why, in words the server chose.
    pub fn error(status: u16, why: &str) -> Response {
        Response::text(status, format!("{status} {}: {why}\n", reason(status)))
    }

    pub fn with_header(
        mut self,
        name: &'static str,
        value: impl Into<String>,
    ) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}
// ANCHOR_END: types

// ANCHOR: read_head
/// How reading a request ended, when it did not give one.
pub enum Ended {
    /// End of stream before a request began (or in the middle: nobody to answer).
    Closed,
    /// Nothing arrived before the deadline: an idle keep-alive connection.
    Idle,
    /// A request we will not serve: this status, and why.
    Refused(u16, String),
    Io(io::Error),
}

/// Reads the head: lines up to the first empty one, at most `max_head` bytes, all of
/// it before the reader's deadline.
pub fn read_head(
    reader: &mut impl BufRead,
    max_head: usize,
) -> Result<Vec<u8>, Ended> {
    let mut head = Vec::new();
    loop {
        let start = head.len();
        // One byte more than the room left tells "too long" from "just fits" (chapter
        // 05's `take`). Without a cap, a client sending header lines for ever would
        // grow this Vec until the server runs out of memory.
        let room = (max_head + 1 - head.len()) as u64;
        match reader.by_ref().take(room).read_until(b'\n', &mut head) {
            Ok(_) => {}
            // A timed-out read: `WouldBlock` on Unix, `TimedOut` on Windows and from
            // MessageDeadline. With nothing read, the connection was just idle.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                return Err(match head.is_empty() {
                    true => Ended::Idle,
                    false => Ended::Refused(
                        408,
                        "the request head did not arrive in time".into(),
                    ),
                });
            }
            Err(err) => return Err(Ended::Io(err)),
        }
        if head.len() > max_head {
            return Err(Ended::Refused(
                431,
                format!("request head over {max_head} bytes"),
            ));
        }
        let line = &head[start..];
        if !line.ends_with(b"\n") {
            return Err(Ended::Closed); // end of stream, mid-line or before any byte
        }
        if line == b"\r\n" || line == b"\n" {
            if start == 0 {
                // An empty line *before* a request: RFC 9112 (section 2.2) asks
                // servers to skip it (some clients send a CRLF after a POST body).
                head.clear();
                continue;
            }
            return Ok(head);
        }
    }
}
// ANCHOR_END: read_head

// ANCHOR: parse_head
/// The head, parsed by hand: `METHOD SP TARGET SP HTTP/1.1 CRLF`, then
/// `Name: value CRLF` lines (RFC 9112, sections 3 and 5). Each rule a client may break
/// is a `400`.
pub fn parse_head(head: &[u8]) -> Result<Request, Ended> {
    let bad = |why: &str| Ended::Refused(400, why.to_string());
    let text =
        std::str::from_utf8(head).map_err(|_| bad("the head is not UTF-8 text"))?;
    // Lines end in CRLF; a bare LF is accepted too (RFC 9112, section 2.2 allows it).
    let mut lines = text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("the request line is not METHOD TARGET VERSION"));
    };
    if !is_token(method) {
        return Err(bad("the method is not a token"));
    }
    let version = match version {
        "HTTP/1.1" => Version::Http11,
        "HTTP/1.0" => Version::Http10,
        // A well-formed version we do not speak (HTTP/2.0 in this syntax, HTTP/3.0).
        v if v.len() == 8
            && v.starts_with("HTTP/")
            && v.as_bytes()[5].is_ascii_digit()
            && v.as_bytes()[6] == b'.'
            && v.as_bytes()[7].is_ascii_digit() =>
        {
            return Err(Ended::Refused(505, format!("{v} is not spoken here")));
        }
        _ => return Err(bad("the version is not HTTP/1.x")),
    };
    // The target: origin-form `/path?query` (what a browser sends to a server), or
    // absolute-form `http://host/path` (what it sends to a proxy; servers accept it
    // too, RFC 9112, section 3.2.2).
    let origin = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    if !origin.starts_with('/') || origin.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad("the target is not a path"));
    }
    let (path, query) = match origin.split_once('?') {
        Some((path, query)) => (path, Some(query.to_string())),
        None => (origin, None),
    };
    let mut headers = Vec::new();
    // The last line is the empty one that ended the head.
    for line in lines.take_while(|l| !l.is_empty()) {
        // A line starting with a space continues the previous one ("obsolete line
        // folding"): refused, RFC 9112, section 5.2.
        if line.starts_with([' ', '\t']) {
            return Err(bad("folded header lines are not accepted"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("a header line has no colon"));
        };
        // No space before the colon (RFC 9112, section 5.1: `Host : x` is how one
        // server and a proxy in front of it end up reading two different requests).
        if !is_token(name) {
            return Err(bad("a header name is not a token"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(bad("a header value holds a control character"));
        }
        headers.push((name.to_string(), value.to_string()));
    }
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query,
        version,
        headers,
        body: Vec::new(),
    })
}

/// A token (RFC 9110, section 5.6.2): what methods and header names are made of.
pub fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
// ANCHOR_END: parse_head

// ANCHOR: read_body
/// A whole request: the head, checked, then exactly `Content-Length` bytes of body.
/// What follows them on the stream is the next request.
pub fn read_request(
    reader: &mut BufReader<MessageDeadline>,
    limits: Limits,
) -> Result<Request, Ended> {
    let head = read_head(reader, limits.max_head)?;
    let mut request = parse_head(&head)?;
    let bad = |why: &str| Ended::Refused(400, why.to_string());
    let hosts = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"));
    if request.version == Version::Http11 && hosts.count() != 1 {
        // RFC 9112, section 3.2: exactly one Host in an HTTP/1.1 request.
        return Err(bad("an HTTP/1.1 request needs exactly one Host header"));
    }
    if request.header("transfer-encoding").is_some() {
        // A chunked *request* body: we do not take one. (And with a Content-Length
        // as well, two parsers could disagree on where the body ends: RFC 9112,
        // section 6.1, calls that request smuggling.)
        return Err(Ended::Refused(
            501,
            "request bodies must have a Content-Length".into(),
        ));
    }
    let mut lengths = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.as_str());
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => 0,
        // Digits only: `u64::from_str` would also take `+5`.
        (Some(v), None) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => v
            .parse::<u64>()
            .map_err(|_| bad("Content-Length is too large"))?,
        _ => return Err(bad("Content-Length must be one number")),
    };
    // Checked *before* reading or allocating (chapter 12's rule for frames).
    if length > limits.max_body {
        let why =
            format!("a body of {length} bytes is over {} bytes", limits.max_body);
        return Err(Ended::Refused(413, why));
    }
    reader.get_mut().restart(); // the body gets its own allowance of time
    let mut body = vec![0; length as usize];
    match reader.read_exact(&mut body) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::UnexpectedEof => {
            return Err(Ended::Closed);
        }
        Err(err)
            if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            return Err(Ended::Refused(
                408,
                "the request body did not arrive in time".into(),
            ));
        }
        Err(err) => return Err(Ended::Io(err)),
    }
    request.body = body;
    Ok(request)
}
// ANCHOR_END: read_body

// ANCHOR: write_response
/// The methods whose responses the server frames differently.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Head,
    Other,
}

impl Method {
    pub fn of(method: &str) -> Method {
        match method {
            "HEAD" => Method::Head,
            _ => Method::Other,
        }
    }
}

/// Writes the status line, the headers and the body, framed so the client knows where
/// the body ends. Returns whether the connection may stay open.
pub fn write_response(
    out: &mut impl Write,
    method: Method,
    version: Version,
    response: Response,
    keep_alive: bool,
) -> io::Result<bool> {
    let Response {
        status,
        headers,
        body,
    } = response;
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    // RFC 9110, section 6.6.1: a server with a clock sends the date, in this format.
    let _ = write!(head, "Date: {}\r\nServer: socket-workbook\r\n", http_date());
    for (name, value) in &headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    // An HTTP/1.0 client knows no chunks: it reads to the end of the stream, so the
    // connection must close after the body.
    let chunked = matches!(body, Body::Chunked(_));
    let keep_alive = keep_alive && !(chunked && version == Version::Http10);
    match &body {
        Body::Full(bytes) => _ = write!(head, "Content-Length: {}\r\n", bytes.len()),
        Body::File(_, len) => _ = write!(head, "Content-Length: {len}\r\n"),
        Body::Chunked(_) if version == Version::Http11 => {
            head.push_str("Transfer-Encoding: chunked\r\n");
        }
        Body::Chunked(_) => {}
    }
    match (keep_alive, version) {
        (false, _) => head.push_str("Connection: close\r\n"),
        (true, Version::Http10) => head.push_str("Connection: keep-alive\r\n"),
        (true, Version::Http11) => {}
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    // HEAD: the same head as GET, and no body at all (not even the last chunk).
    if method == Method::Head {
        return Ok(keep_alive);
    }
    match body {
        Body::Full(bytes) => out.write_all(&bytes)?,
        Body::File(file, len) => {
            // A file that shrank since we measured it would leave the client waiting
            // for bytes that never come: check, and close if so.
            let copied = io::copy(&mut file.take(len), out)?;
            if copied != len {
                return Err(io::Error::other("the file changed while it was sent"));
            }
        }
        // Each chunk: its length in hex, CRLF, the bytes, CRLF; a zero-length chunk
        // ends the body (RFC 9112, section 7.1).
        Body::Chunked(parts) if version == Version::Http11 => {
            for part in parts.filter(|p| !p.is_empty()) {
                write!(out, "{:x}\r\n", part.len())?;
                out.write_all(&part)?;
                out.write_all(b"\r\n")?;
            }
            out.write_all(b"0\r\n\r\n")?;
        }
        Body::Chunked(parts) => {
            for part in parts {
                out.write_all(&part)?;
            }
        }
    }
    Ok(keep_alive)
}

/// Now, as `Date` wants it (`Mon, 07 Dec 2026 19:13:18 GMT`). Formatted at most once a
/// second per worker, as hyper and nginx do: the text changes only that often.
pub fn http_date() -> String {
    thread_local! {
        static CACHE: std::cell::RefCell<(i64, String)> = Default::default();
    }
    let now = jiff::Timestamp::now();
    CACHE.with_borrow_mut(|(second, text)| {
        if *second != now.as_second() || text.is_empty() {
            *second = now.as_second();
            *text = now.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
        }
        text.clone()
    })
}

/// The complete bytes of a refusal sent before any request is read (`503`).
pub fn refusal_bytes(status: u16, why: &str) -> Vec<u8> {
    let body = format!("{status} {}: {why}\n", reason(status));
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    )
    .into_bytes()
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}
// ANCHOR_END: write_response

/// `%XX` escapes decoded (RFC 3986, section 2.1); the result must be UTF-8.
pub fn percent_decode(text: &str) -> Result<String, &'static str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(byte.ok_or("a bad %-escape in the path")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the path is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<Request, (u16, String)> {
        parse_head(head.as_bytes()).map_err(|e| match e {
            Ended::Refused(status, why) => (status, why),
            _ => (0, String::new()),
        })
    }

    #[test]
    fn a_head_parses_into_its_parts() {
        let request =
            parse("GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-Y:  v \r\n\r\n").unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/a%20b");
        assert_eq!(request.query.as_deref(), Some("x=1"));
        assert!(request.version == Version::Http11);
        assert_eq!(request.header("x-y"), Some("v"));
        assert!(request.keep_alive());
        let request = parse("GET http://h/p HTTP/1.0\nHost: h\n\n").unwrap();
        assert_eq!(request.path, "/p");
        assert!(!request.keep_alive());
    }

    #[test]
    fn each_broken_rule_is_its_status() {
        for (head, status) in [
            ("GET / HTTP/2.0\r\n\r\n", 505),
            ("GET / HTTP/1.x\r\n\r\n", 400),
            ("GET /  HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nA : b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nA: b\x00\r\n\r\n", 400),
        ] {
            assert_eq!(parse(head).map(|_| ()).unwrap_err().0, status, "{head:?}");
        }
    }

    #[test]
    fn the_head_cap_holds_at_the_limit_and_refuses_one_past_it() {
        let head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let mut exact = head.as_bytes();
        assert!(read_head(&mut exact, head.len()).is_ok());
        let mut over = head.as_bytes();
        assert!(matches!(
            read_head(&mut over, head.len() - 1),
            Err(Ended::Refused(431, _))
        ));
    }

    #[test]
    fn percent_decoding_refuses_bad_escapes() {
        assert_eq!(percent_decode("/a%20b%2E").unwrap(), "/a b.");
        for bad in ["%", "%2", "%zz", "%ff"] {
            assert!(percent_decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_chunked_response_to_head_has_no_body() {
        let parts = || Body::Chunked(Box::new(vec![b"ab".to_vec()].into_iter()));
        let mut get = Vec::new();
        let response = Response::new(200, "text/plain", parts());
        write_response(&mut get, Method::Other, Version::Http11, response, true)
            .unwrap();
        assert!(get.ends_with(b"\r\n\r\n2\r\nab\r\n0\r\n\r\n"));
        let mut head = Vec::new();
        let response = Response::new(200, "text/plain", parts());
        write_response(&mut head, Method::Head, Version::Http11, response, true)
            .unwrap();
        assert!(head.ends_with(b"Transfer-Encoding: chunked\r\n\r\n"));
    }
}
