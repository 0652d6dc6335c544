//! # 19 — HTTP/1.1: a web server a browser talks to
//!
//! Teaches an application protocol on the byte stream: HTTP/1.1 is chapter 12's framing (a
//! head of text lines ended by an empty line, then a body whose length the head gives),
//! chapter 11's sticky packets (pipelined requests share the stream), chapter 05's pool (each
//! connection on a worker; "busy" becomes `503`) and chapter 16's deadlines (the whole request
//! head must arrive in time: the classic slowloris attack is a head that never ends). The
//! request is parsed by hand, so that every byte is visible, in `src/http.rs` (the messages;
//! this file is the server); handlers are functions from a request to a response, with a small
//! router: our WSGI. Static files are served from a folder (`--root`), and every way out of it
//! is refused.
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
//! Look for the first line, `listening on ADDR` (printed once the server is ready), then one
//! `closed: PEER after N request(s)` line per connection: a browser sends many
//! requests on one connection (keep-alive), and every refusal is one status line and a
//! `refused:` line, never a hang.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use socket_workbook::http::{
    Body, Ended, Limits, Method, Request, Response, Version, percent_decode,
    read_request, reason, refusal_bytes, write_response,
};
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
        "shutting down: served {} connection(s); \
         turned away {} as busy, {} at shutdown",
        summary.served, summary.busy, summary.turned_away_at_shutdown
    );
    Ok(())
}
// ANCHOR_END: run

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

// ANCHOR: router
/// Our WSGI: a handler is any function from a request to a response. It knows
/// nothing of sockets, keep-alive or framing, as a WSGI application knows nothing of
/// the server that calls it (PEP 3333); the server can change without touching it.
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
