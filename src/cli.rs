//! What every example shares on the command line (chapter 01): how it reports a failure, how a
//! server announces its address, how it reads a number of seconds.
//!
//! An example's `main` returns [`std::process::ExitCode`] through [`report`], never
//! `anyhow::Result` directly: `fn main() -> anyhow::Result<()>` prints a multi-line
//! `Error: … Caused by: …` report, while a reader (and a script) wants one line that says what
//! failed, on which address, and what to try:
//!
//! ```text
//! error: cannot listen on 127.0.0.1:7878: address already in use (is another server running on it?)
//! ```
//!
//! The examples add the "what, on which address" part with `anyhow::Context`; this module turns
//! the operating system's error at the bottom of the chain into plain words and a hint.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener};
use std::ops::RangeBounds;
use std::process::ExitCode;
use std::time::Duration;

// ANCHOR: report
/// Ends `main`: `Ok` is exit code 0; an error is printed as one `error: …` line on
/// stderr and gives exit code 1 (the program cannot go on). Bad arguments never get
/// here: clap exits with 2.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, outermost first (`cannot connect to ADDR:
/// connection refused (hint)`), with every I/O error described by [`describe_io`].
pub fn one_line(err: &anyhow::Error) -> String {
    err.chain()
        .map(|cause| match cause.downcast_ref::<io::Error>() {
            Some(io_err) => describe_io(io_err),
            None => cause.to_string(),
        })
        .collect::<Vec<_>>()
        .join(": ")
}
// ANCHOR_END: report

// ANCHOR: describe_io
/// An I/O error in plain words, followed by a hint where one helps.
///
/// The OS's own text (`Address already in use (os error 98)`) differs between Linux,
/// macOS and Windows; the [`ErrorKind`] does not, so we word the common ones
/// ourselves. An error that a program built with its own message (`io::Error::new`)
/// keeps that message.
pub fn describe_io(err: &io::Error) -> String {
    let kind = err.kind();
    let what = if err.get_ref().is_some() {
        err.to_string()
    } else if is_too_many_open_files(err) {
        // No stable `ErrorKind` for this one yet: recognise the OS's number.
        return "too many open files (raise the limit: `ulimit -n`)".to_string();
    } else {
        match kind {
            ErrorKind::AddrInUse => "address already in use".to_string(),
            ErrorKind::AddrNotAvailable => "address not available".to_string(),
            ErrorKind::PermissionDenied => "permission denied".to_string(),
            ErrorKind::ConnectionRefused => "connection refused".to_string(),
            ErrorKind::ConnectionReset => "connection reset by peer".to_string(),
            ErrorKind::ConnectionAborted => "connection aborted".to_string(),
            ErrorKind::BrokenPipe => "broken pipe".to_string(),
            // A blocking socket with a read or write timeout reports the timeout as
            // `WouldBlock` on Unix and as `TimedOut` on Windows: the same event.
            ErrorKind::TimedOut | ErrorKind::WouldBlock => "timed out".to_string(),
            ErrorKind::UnexpectedEof => {
                "connection closed before all data arrived".to_string()
            }
            ErrorKind::HostUnreachable => "host unreachable".to_string(),
            ErrorKind::StorageFull => "no space left on device".to_string(),
            ErrorKind::NetworkUnreachable => "network unreachable".to_string(),
            _ => err.to_string(),
        }
    };
    match hint(kind) {
        Some(hint) => format!("{what} ({hint})"),
        None => what,
    }
}

/// What to try next, for the errors a reader of this workbook meets most
/// (the Troubleshooting appendix explains each one at length).
fn hint(kind: ErrorKind) -> Option<&'static str> {
    Some(match kind {
        ErrorKind::AddrInUse => "is another server running on it?",
        ErrorKind::AddrNotAvailable => "is that IP address one of this machine's?",
        ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges; try a higher port"
        }
        ErrorKind::ConnectionRefused => "is the server running, and on this port?",
        ErrorKind::ConnectionReset => "the peer closed the connection abruptly",
        ErrorKind::BrokenPipe => {
            "the peer closed the connection before we finished writing"
        }
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            "is the peer alive and reading?"
        }
        ErrorKind::UnexpectedEof => "the peer closed the connection early",
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            "check the address and route"
        }
        ErrorKind::StorageFull => "the disk is full: free some space",
        _ => return None,
    })
}
// ANCHOR_END: describe_io

/// `EMFILE`: the process has no file descriptor left for a new socket.
fn is_too_many_open_files(err: &io::Error) -> bool {
    // 24 on Linux and the BSDs (macOS included); 10024 (WSAEMFILE) on Windows.
    const EMFILE: i32 = if cfg!(windows) { 10024 } else { 24 };
    err.raw_os_error() == Some(EMFILE)
}

// ANCHOR: throttle
/// Rate-limits a recurring error line, so that an error that repeats many times a
/// second (an `accept` failing for want of file descriptors, say) cannot flood the
/// terminal or a log.
///
/// The first occurrence is printed at once; later ones at most once per `interval`,
/// each saying how many were held back since the last line.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    last_printed: Option<std::time::Instant>,
    held_back: u64,
}

impl Throttle {
    /// A throttle that prints at most one line per `interval`.
    pub fn new(interval: Duration) -> Self {
        Throttle {
            interval,
            last_printed: None,
            held_back: 0,
        }
    }

    /// Whether this occurrence is to be printed: `Some(n)`, with `n` the occurrences
    /// held back since the last printed one, or `None` to hold this one back (and
    /// count it).
    pub fn allow(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        match self.last_printed {
            Some(last) if now.duration_since(last) < self.interval => {
                self.held_back += 1;
                None
            }
            _ => {
                self.last_printed = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }

    /// Prints `line` on stderr if [`allow`](Self::allow) lets it through, with the
    /// number of repeats held back: `error: accept failed: … (and 49 more like it in
    /// the last 5 s)`.
    pub fn eprintln(&mut self, line: &str) {
        match self.allow() {
            Some(0) => eprintln!("{line}"),
            Some(more) => eprintln!(
                "{line} (and {more} more like it in the last {} s)",
                self.interval.as_secs_f64()
            ),
            None => {}
        }
    }
}
// ANCHOR_END: throttle

/// Prints the line every server starts with, `listening on ADDR`, with the address the listener
/// really got (the port resolved when it was 0), and returns that address. Chapter 01 writes
/// these two steps out; the later servers call this.
///
/// Call it once the server is ready, with everything it needs before its first client in
/// place (the Ctrl-C watch, a poller): whoever reads the line, a person or a test, may
/// connect, press Ctrl-C or count the server's descriptors at once.
pub fn announce(listener: &TcpListener) -> anyhow::Result<SocketAddr> {
    use anyhow::Context;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    println!("listening on {local}");
    Ok(local)
}

/// Parses a clap argument in seconds, fractions allowed: `--timeout 1.5` is 1.5 s. Zero and
/// negative values are refused, since std treats a zero socket timeout as an error.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| format!("`{text}` is not a positive number of seconds"))
}

// ANCHOR: number
/// A whole-number option, checked by clap against `range` before the program starts:
/// `--workers 0` or `--max-line 18446744073709551615` is refused with one line
/// (`error: invalid value '0' for '--workers <WORKERS>': 0 is not in 1..=1024`) and
/// exit code 2, instead of a panic, an overflow or a server that cannot serve anyone
/// later. Use it as `#[arg(long, value_parser = cli::number::<usize>(1..=1024))]`.
pub fn number<T>(
    range: impl RangeBounds<u64>,
) -> clap::builder::RangedU64ValueParser<T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
    <T as TryFrom<u64>>::Error: Send + Sync + std::error::Error + 'static,
{
    clap::builder::RangedU64ValueParser::<T>::new().range(range)
}
// ANCHOR_END: number

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn os_errors_get_plain_words_and_a_hint() {
        let err = Err::<(), _>(io::Error::from(ErrorKind::AddrInUse))
            .context("cannot listen on 127.0.0.1:7878")
            .unwrap_err();
        assert_eq!(
            one_line(&err),
            "cannot listen on 127.0.0.1:7878: address already in use \
             (is another server running on it?)"
        );
    }

    #[test]
    fn a_raw_os_error_loses_its_os_specific_text() {
        // ECONNREFUSED is 111 on Linux, 61 on macOS; build it from the kind the OS maps it to.
        let refused = io::Error::from(ErrorKind::ConnectionRefused);
        assert_eq!(
            describe_io(&refused),
            "connection refused (is the server running, and on this port?)"
        );
    }

    #[test]
    fn running_out_of_file_descriptors_says_what_to_do() {
        let emfile =
            io::Error::from_raw_os_error(if cfg!(windows) { 10024 } else { 24 });
        assert_eq!(
            describe_io(&emfile),
            "too many open files (raise the limit: `ulimit -n`)"
        );
    }

    #[test]
    fn seconds_are_positive_numbers() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn numbers_outside_their_range_are_refused_with_the_range() {
        use clap::builder::TypedValueParser;
        let cmd = clap::Command::new("t");
        let parse = |text: &str| {
            number::<usize>(1..=1024).parse_ref(&cmd, None, std::ffi::OsStr::new(text))
        };
        assert_eq!(parse("1").ok(), Some(1));
        assert_eq!(parse("1024").ok(), Some(1024));
        for bad in ["0", "1025", "18446744073709551615", "-1", "many"] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
        let err = parse("0").unwrap_err().to_string();
        assert!(err.contains("0 is not in 1..=1024"), "{err}");
    }

    #[test]
    fn a_full_disk_says_so() {
        let full = io::Error::from(ErrorKind::StorageFull);
        assert_eq!(
            describe_io(&full),
            "no space left on device (the disk is full: free some space)"
        );
    }

    #[test]
    fn a_throttle_lets_one_line_through_per_interval_and_counts_the_rest() {
        let mut throttle = Throttle::new(Duration::from_millis(200));
        assert_eq!(throttle.allow(), Some(0), "the first one is printed");
        for _ in 0..1000 {
            assert_eq!(throttle.allow(), None);
        }
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(
            throttle.allow(),
            Some(1000),
            "the next line counts the ones held back"
        );
        assert_eq!(throttle.allow(), None);
    }

    #[test]
    fn a_message_written_on_purpose_is_kept() {
        let err = io::Error::new(ErrorKind::InvalidData, "echo differs at byte 17");
        assert_eq!(describe_io(&err), "echo differs at byte 17");
        let other = anyhow::anyhow!("no such thing").context("outer");
        assert_eq!(one_line(&other), "outer: no such thing");
    }
}
