//! Chapter 19's yardstick: hyper's HTTP/1.1 server on tokio's multi-threaded runtime,
//! answering `GET /hello` with the same 13 bytes as `examples/19_http_server.rs`
//! (`hello, world\n`), keep-alive and pipelining as hyper does them. Prints `listening on
//! ADDR` first, like the workbook's servers; `bench/http.sh` runs it.
//!
//! ```text
//! cargo run --release --manifest-path bench/http_yardstick/Cargo.toml -- 127.0.0.1:7890
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn hello(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"hello, world\n")));
    if request.uri().path() != "/hello" {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
        .headers_mut()
        .insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7890".into())
        .parse()
        .expect("usage: http-yardstick ADDR");
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            let _ = http1::Builder::new()
                .serve_connection(io, service_fn(hello))
                .await;
        });
    }
}
