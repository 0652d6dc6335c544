//! # 19 — HTTP/1.1: a web server a browser talks to
//!
//! Teaches an application protocol on the byte stream: HTTP/1.1 is chapter 12's framing (a
//! head of text lines ended by an empty line, then a body whose length the head gives),
//! chapter 11's sticky packets (pipelined requests share the stream), chapter 05's pool (each
//! connection on a worker; "busy" becomes `503`) and chapter 16's deadlines (the whole request
//! head must arrive in time: the classic slowloris attack is a head that never ends). The
//! request is parsed by hand, so that every byte is visible; handlers are functions from a
//! request to a response, with a small router: our WSGI. Static files are served from a folder
//! (`--root`), and every way out of it is refused.
//!
//! ```text
//! terminal 1:  cargo run --example 19_http_server
//! terminal 2:  curl -v http://127.0.0.1:7878/hello?name=ada
//!     or open http://127.0.0.1:7878/ in a browser
//!
//! the book itself, through your own server (build it first: mdbook build book):
//! terminal 1:  cargo run --example 19_http_server -- --root book/book
//!     then open http://127.0.0.1:7878/ in a browser
//! ```
//!
//! Look for one `closed: PEER after N request(s)` line per connection: a browser sends many
//! requests on one connection (keep-alive), and every refusal is one status line and a
//! `refused:` line, never a hang.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::server::{self, Config, MessageDeadline, Refusals};
use socket_workbook::shutdown::{self, Shutdown};
use socket_workbook::{cli, net};

/// HTTP/1.1 server: keep-alive, pipelining, static files, until Ctrl-C.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Port 0 asks the OS for any free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,

    /// Serve the files in this folder (the built book: `--root book/book`); without it, a
    /// small built-in page.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// Worker threads: connections served at once. A keep-alive connection holds its worker
    /// until it closes or idles out; a browser opens up to six.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,

    /// Connections that may wait for a free worker; beyond that, new ones get `503`.
    #[arg(long, default_value_t = 32)]
    queue: u16,

    /// Seconds in which the next request's head must be complete, counted from the end of
    /// the previous response (or from the connection's start): an idle connection is closed
    /// then, and a head that is still arriving gets `408`. The body gets as long again.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = cli::parse_seconds)]
    header_timeout: Duration,

    /// The largest request head (request line and headers) accepted, in bytes; `431` beyond.
    #[arg(long, default_value_t = 8192)]
    max_head: usize,

    /// The largest request body accepted, in bytes; `413` beyond.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_body: u64,
}

/// The limits every connection is held to.
#[derive(Clone, Copy)]
struct Limits {
    header_timeout: Duration,
    max_head: usize,
    max_body: u64,
}

fn main() -> ExitCode {
    cli::report(run(Args::parse()))
}

// ANCHOR: run
fn run(args: Args) -> anyhow::Result<()> {
    // The root is made absolute and free of symbolic links once, here: every file
    // served is checked to lie under *this* path (see `static_file`).
    let root = match &args.root {
        Some(dir) => Some(dir.canonicalize().with_context(|| {
            format!(
                "cannot serve files from {} (is it a folder?)",
                dir.display()
            )
        })?),
        None => None,
    };
    let shutdown = Shutdown::on_ctrl_c()?;
    let listener = net::listen(args.addr, net::BACKLOG)
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    cli::announce(&listener)?;
    match &root {
        Some(root) => println!("serving files from {}", root.display()),
        None => println!("serving the built-in page (--root DIR serves a folder)"),
    }

    let config = Config {
        workers: usize::from(args.workers),
        queue: usize::from(args.queue),
        // Also the sockets' write timeout: a client that stops reading its response
        // loses its worker after this long.
        idle_timeout: args.header_timeout,
        // Chapter 05's lesson: a refusal is in the client's protocol. A browser shown
        // the text line `server busy` would call it a broken response; `503` with
        // `Retry-After` is what it understands.
        refusals: Refusals {
            busy: refusal_bytes(503, "server busy, try again later"),
            shutting_down: refusal_bytes(503, "server shutting down"),
        },
    };
    let limits = Limits {
        header_timeout: args.header_timeout,
        max_head: args.max_head,
        max_body: args.max_body,
    };
    let app = Arc::new(app(root));
    let summary = server::serve(
        &listener,
        &shutdown,
        &config,
        move |stream, peer, shutdown: &Shutdown| {
            serve_connection(stream, peer, shutdown, &app, limits)
        },
    )?;
    println!(
        "shutting down: served {} connection(s); turned away {} as busy, {} at shutdown",
        summary.served, summary.busy, summary.turned_away_at_shutdown
    );
    Ok(())
}
// ANCHOR_END: run

// ANCHOR: types
/// One request, as the head and body said it. Everything is owned text: a handler needs
/// no lifetimes, and the bytes it came from are already checked.
struct Request {
    method: String,
    /// The path part of the target, still percent-encoded (`/a%20b`).
    path: String,
    /// What followed `?` in the target, if anything.
    query: Option<String>,
    version: Version,
    /// In the order they came; names as sent (look them up with [`Request::header`]).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    Http10,
    Http11,
}

/// What a handler returns. The server adds the framing (`Content-Length` or chunks),
/// `Date` and `Connection`: a handler cannot get those wrong.
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

enum Body {
    /// Known bytes: sent with `Content-Length`.
    Full(Vec<u8>),
    /// An open file of known length: streamed with `Content-Length`.
    File(File, u64),
    /// Parts produced one after another, total unknown in advance: sent chunked.
    Chunked(Box<dyn Iterator<Item = Vec<u8>> + Send>),
}

impl Request {
    /// A header's value; names are case-insensitive (RFC 9110, section 5.1).
    fn header(&self, name: &str) -> Option<&str> {
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        found.next().map(|(_, v)| v.as_str())
    }

    /// Does `Connection` list `token` (`close`, `keep-alive`)? It is a comma-separated
    /// list, any case.
    fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// HTTP/1.1 keeps the connection open unless told `close`; HTTP/1.0 closes it
    /// unless told `keep-alive` (RFC 9112, section 9.3).
    fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.connection_has("close"),
            Version::Http10 => self.connection_has("keep-alive"),
        }
    }
}

impl Response {
    fn new(status: u16, content_type: &str, body: Body) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body,
        }
    }

    /// A plain-text response. Text, not HTML: nothing a client sent can become markup.
    fn text(status: u16, text: impl Into<String>) -> Response {
        let body = Body::Full(text.into().into_bytes());
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    /// An error page: the status and why, in words the server chose.
    fn error(status: u16, why: &str) -> Response {
        Response::text(status, format!("{status} {}: {why}\n", reason(status)))
    }

    fn with_header(
        mut self,
        name: &'static str,
        value: impl Into<String>,
    ) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}
// ANCHOR_END: types

// ANCHOR: connection
/// One connection: requests one after another (keep-alive), answered in order (so
/// pipelined requests, several sent before the first answer, need nothing special).
fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &Shutdown,
    app: &Router,
    limits: Limits,
) -> anyhow::Result<()> {
    // Ctrl-C wakes a worker blocked in `read`: it sees the end of the stream.
    let _watch = shutdown.watch_stream(&stream)?;
    let writer = stream
        .try_clone()
        .context("cannot clone the client's socket")?;
    let closer = stream
        .try_clone()
        .context("cannot clone the client's socket")?;
    // The deadline is per *message*, not per `read` (chapter 05's MessageDeadline):
    // a client sending one byte a second never finishes its head in time.
    let mut reader =
        BufReader::new(MessageDeadline::new(stream, limits.header_timeout));
    // Responses are collected and written once the client has no more requests
    // waiting: one `write` for a whole pipeline, not one per header line.
    let mut out = BufWriter::new(writer);
    let mut requests = 0u64;
    let how = loop {
        reader.get_mut().restart();
        let request = match read_request(&mut reader, limits) {
            Ok(request) => request,
            Err(Ended::Closed) => break "the client closed",
            Err(Ended::Idle) => break "idle",
            Err(Ended::Io(err)) => {
                return Err(err).with_context(|| format!("cannot read from {peer}"));
            }
            Err(Ended::Refused(status, why)) => {
                // The stream may be anywhere inside a broken request: we cannot find
                // the next one. Answer, say so (`Connection: close`) and close.
                println!("refused: {peer}: {status} {}: {why}", reason(status));
                let response = Response::error(status, &why);
                write_response(
                    &mut out,
                    Method::Other,
                    Version::Http11,
                    response,
                    false,
                )
                .and_then(|_| out.flush())
                .with_context(|| format!("cannot write to {peer}"))?;
                break "refused";
            }
        };
        // After Ctrl-C the request being served gets its answer, with `close`.
        let keep_alive = request.keep_alive() && !shutdown.is_triggered();
        let response = app.handle(&request);
        let method = Method::of(&request.method);
        let keep_alive =
            write_response(&mut out, method, request.version, response, keep_alive)
                .with_context(|| format!("cannot write to {peer}"))?;
        requests += 1;
        // Flush when no next request is already waiting in our buffer.
        if reader.buffer().is_empty() || !keep_alive {
            out.flush()
                .with_context(|| format!("cannot write to {peer}"))?;
        }
        if !keep_alive {
            break "not kept alive";
        }
    };
    out.flush()
        .with_context(|| format!("cannot write to {peer}"))?;
    // FIN after the last response, then a short drain: the client reads every
    // response, then a clean end of stream, never a reset (chapter 03).
    drop(_watch);
    shutdown::close_gracefully(&closer);
    println!("closed: {peer} after {requests} request(s) ({how})");
    Ok(())
}
// ANCHOR_END: connection

// ANCHOR: read_head
/// How reading a request ended, when it did not give one.
enum Ended {
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
fn read_head(reader: &mut impl BufRead, max_head: usize) -> Result<Vec<u8>, Ended> {
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
/// The head, parsed by hand: `METHOD SP TARGET SP HTTP/1.1 CRLF`, then `Name: value CRLF`
/// lines (RFC 9112, sections 3 and 5). Each rule a client may break is a `400`.
fn parse_head(head: &[u8]) -> Result<Request, Ended> {
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
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
// ANCHOR_END: parse_head

// ANCHOR: read_body
/// A whole request: the head, checked, then exactly `Content-Length` bytes of body.
/// What follows them on the stream is the next request.
fn read_request(
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
enum Method {
    Head,
    Other,
}

impl Method {
    fn of(method: &str) -> Method {
        match method {
            "HEAD" => Method::Head,
            _ => Method::Other,
        }
    }
}

/// Writes the status line, the headers and the body, framed so the client knows where
/// the body ends. Returns whether the connection may stay open.
fn write_response(
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
fn http_date() -> String {
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
fn refusal_bytes(status: u16, why: &str) -> Vec<u8> {
    let body = format!("{status} {}: {why}\n", reason(status));
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    )
    .into_bytes()
}

fn reason(status: u16) -> &'static str {
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

// ANCHOR: router
/// Our WSGI: a handler is any function from a request to a response. It knows nothing
/// of sockets, keep-alive or framing, as a WSGI application knows nothing of the server
/// that calls it (PEP 3333); the server can change without touching it.
type Handler = Box<dyn Fn(&Request) -> Response + Send + Sync>;

/// Which handler answers which paths and methods.
struct Router {
    routes: Vec<Route>,
}

struct Route {
    path: &'static str,
    /// `true`: every path under `path` (which ends in `/`); `false`: exactly `path`.
    prefix: bool,
    methods: &'static [&'static str],
    handler: Handler,
}

impl Router {
    fn new() -> Router {
        Router { routes: Vec::new() }
    }

    fn exact(
        mut self,
        methods: &'static [&'static str],
        path: &'static str,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Router {
        let handler = Box::new(handler);
        let route = Route {
            path,
            prefix: false,
            methods,
            handler,
        };
        self.routes.push(route);
        self
    }

    fn prefix(
        mut self,
        methods: &'static [&'static str],
        path: &'static str,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Router {
        let handler = Box::new(handler);
        let route = Route {
            path,
            prefix: true,
            methods,
            handler,
        };
        self.routes.push(route);
        self
    }

    /// The first route whose path matches answers; a path no route knows is `404`; a
    /// known path with another method is `405` with the methods it allows (RFC 9110,
    /// section 15.5.6). `HEAD` goes wherever `GET` does.
    fn handle(&self, request: &Request) -> Response {
        let matches = |route: &&Route| match route.prefix {
            true => request.path.starts_with(route.path),
            false => request.path == route.path,
        };
        let Some(route) = self.routes.iter().find(matches) else {
            return Response::error(404, "no such page");
        };
        let method = request.method.as_str();
        let get = route.methods.contains(&"GET");
        if route.methods.contains(&method) || (method == "HEAD" && get) {
            return (route.handler)(request);
        }
        let mut allow = route.methods.to_vec();
        if get {
            allow.push("HEAD");
        }
        Response::error(405, &format!("{method} is not allowed here"))
            .with_header("Allow", allow.join(", "))
    }
}
// ANCHOR_END: router

// ANCHOR: app
/// The application: four handlers, and the files under `root`.
fn app(root: Option<PathBuf>) -> Router {
    let router = Router::new()
        .exact(&["GET"], "/hello", hello)
        .exact(&["POST"], "/echo", echo)
        .exact(&["GET"], "/chunked", chunked);
    match root {
        Some(root) => router.prefix(&["GET"], "/", move |r| static_file(&root, r)),
        None => router.exact(&["GET"], "/", index),
    }
}

/// `GET /hello?name=ada`: `hello, ada`.
fn hello(request: &Request) -> Response {
    let name = request
        .query
        .as_deref()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("name=")))
        .and_then(|n| percent_decode(&n.replace('+', " ")).ok())
        .unwrap_or_else(|| "world".to_string());
    Response::text(200, format!("hello, {name}\n"))
}

/// `POST /echo`: the body back, as plain text, whatever it holds.
fn echo(request: &Request) -> Response {
    let body = Body::Full(request.body.clone());
    Response::new(200, "text/plain; charset=utf-8", body)
}

/// `GET /chunked`: a body made part by part, its length unknown when the head is
/// sent; so it goes out in chunks.
fn chunked(_request: &Request) -> Response {
    let parts = (1..=3).map(|i| format!("part {i} of 3\n").into_bytes());
    Response::new(
        200,
        "text/plain; charset=utf-8",
        Body::Chunked(Box::new(parts)),
    )
}

/// `GET /` without `--root`: a page with a link, a form and a chunked page to try.
fn index(_request: &Request) -> Response {
    let page = include_str!("19_index.html");
    Response::new(200, "text/html; charset=utf-8", Body::Full(page.into()))
}
// ANCHOR_END: app

// ANCHOR: static_file
/// A file under `root` (already canonical), or the `index.html` of a folder under it.
fn static_file(root: &Path, request: &Request) -> Response {
    // 1. The path, decoded and checked segment by segment: no way out by its text.
    let relative = match safe_relative_path(&request.path) {
        Ok(relative) => relative,
        Err(why) => return Response::error(400, why),
    };
    // 2. The real path, with every symbolic link resolved: no way out through a link
    //    inside the folder that points outside it.
    let Ok(mut path) = root.join(&relative).canonicalize() else {
        return Response::error(404, "no such file");
    };
    if !path.starts_with(root) {
        return Response::error(403, "that file is outside the served folder");
    }
    if path.is_dir() {
        // `/book` must become `/book/`, or the page's relative links would resolve
        // against `/` in the browser.
        if !request.path.ends_with('/') {
            return Response::error(301, "the folder's address ends in /")
                .with_header("Location", format!("{}/", request.path));
        }
        path.push("index.html");
    }
    // 3. Open it and send its length; the body is streamed, never read whole.
    let opened = File::open(&path).and_then(|f| Ok((f.metadata()?, f)));
    match opened {
        Ok((meta, file)) if meta.is_file() => {
            Response::new(200, content_type(&path), Body::File(file, meta.len()))
        }
        _ => Response::error(404, "no such file"),
    }
}

/// A request path as a relative file path, or why it is refused. Every way out of the
/// folder that a path's *text* can take is refused here: `..` (also as `%2e%2e`,
/// decoded first), an encoded `/` (`%2f`: it would let `..%2f` pass the segment
/// check), a backslash or a drive (`C:`, Windows' separators), and NUL (which
/// ends a path in C: the OS would see a shorter name than we checked). Leading or
/// doubled slashes only give empty segments: `//etc/passwd` is `etc/passwd` under the
/// folder.
fn safe_relative_path(raw: &str) -> Result<PathBuf, &'static str> {
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return Err("an encoded slash in the path");
    }
    let decoded = percent_decode(raw)?;
    let mut relative = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err("`..` in the path"),
            s if s.contains(['\\', ':', '\0']) => {
                return Err("a backslash, colon or NUL in the path");
            }
            s => relative.push(s),
        }
    }
    Ok(relative)
}

/// `%XX` escapes decoded (RFC 3986, section 2.1); the result must be UTF-8.
fn percent_decode(text: &str) -> Result<String, &'static str> {
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

/// The media type browsers need to use a file (a style sheet served as
/// `application/octet-stream` is ignored).
fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" | "md" | "rs" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}
// ANCHOR_END: static_file
