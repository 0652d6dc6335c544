//! # socket-workbook
//!
//! The code that the workbook's chapters teach once and later chapters reuse. Each lesson itself
//! lives in `examples/NN_name.rs` and reads top to bottom; only what a chapter has already
//! explained moves here.
//!
//! ## Module map
//!
//! - [`cli`]: what every example shares on the command line: one `error: …` line with a hint
//!   and exit code 1 on failure, a server's first line `listening on ADDR`, seconds as arguments
//!   (introduced in chapter 01, the echo server).
//! - [`shutdown`]: Ctrl-C shutdown for blocking servers: a handle that stops the accept loop and
//!   wakes threads blocked in `accept` or `read` (introduced in chapter 03, the sequential server).
//! - [`echo`]: the echo loop of chapters 01 and 03, with shutdown and an idle timeout, as the
//!   threaded servers reuse it (taught in chapter 03, shared from chapter 04 on).
//! - [`pool`]: a fixed-size thread pool with a bounded queue and reservations (chapter 05).
//! - [`server`]: a reusable threaded TCP server on top of the pool, our `socketserver`: a bound
//!   listener and a handler in, accept loop, "server busy" and Ctrl-C handled (chapter 05).
//! - [`net`]: listening with socket2: `SO_REUSEADDR` where it is right and a listen backlog for
//!   bursts of thousands of connects; the servers from chapter 07 on listen through it
//!   (chapter 06); and the UDP errors that differ between platforms (chapters 09 and 10).
//! - [`rfc868`]: the RFC 868 Time Protocol's 4-byte message, encoded and decoded, and its 2036
//!   wrap (chapters 09 and 10).
//! - [`text`]: untrusted text made inert before a terminal shows it: control and
//!   bidirectional formatting characters escaped, never obeyed, and one reply bounded
//!   (chapter 14; chapter 18's chat room and the clients of 02, 12, 15 and 17 reuse it).
//! - [`framing`]: length-prefixed frames (4-byte big-endian length) and capped line framing,
//!   blocking and incremental, with a maximum size checked before allocating (chapter 12).
//! - [`http`]: HTTP/1.1 requests parsed by hand with a cap and a deadline, responses framed by
//!   the server (`Content-Length`, chunked, `HEAD`), the status of every refusal (chapter 19).

pub mod cli;
pub mod echo;
pub mod framing;
pub mod http;
pub mod net;
pub mod pool;
pub mod rfc868;
pub mod server;
pub mod shutdown;
pub mod text;
