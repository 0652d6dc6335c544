//! Tests of `examples/15_file_transfer.rs`: a 50 MiB file arrives identical; untrusted names,
//! oversized files, existing files and bad checksums are refused and nothing is written; an
//! interrupted transfer leaves nothing behind. Every refusal is an answer the sender prints,
//! given before any data: malformed headers, names with control characters, names of any
//! length up to the limit (all of which can be saved), names taken by anything at all.

mod common;

use std::io::{BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;

use common::{Proc, connect, run};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use socket_workbook::framing::{read_frame, write_frame};
use tempfile::TempDir;

const EXAMPLE: &str = "15_file_transfer";

fn receiver(dir: &Path, extra: &[&str]) -> (Proc, SocketAddr) {
    let dir = dir.to_str().unwrap();
    let mut args = vec!["receive", "--dir", dir, "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Proc::server(EXAMPLE, &args)
}

/// Everything in `dir`, temporary files included.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_50_mib_random_file_arrives_byte_identical() {
    let inbox = TempDir::new().unwrap();
    let outbox = TempDir::new().unwrap();
    let mut contents = vec![0u8; 50 << 20];
    StdRng::seed_from_u64(15).fill_bytes(&mut contents);
    let file = outbox.path().join("random.bin");
    std::fs::write(&file, &contents).unwrap();

    let (server, addr) = receiver(inbox.path(), &[]);
    let done = run(
        EXAMPLE,
        &["send", file.to_str().unwrap(), "--addr", &addr.to_string()],
        b"",
    );
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(
        done.stdout[0].starts_with("sent: random.bin (52428800 bytes) in "),
        "{:?}",
        done.stdout
    );
    assert!(done.stdout[0].contains("ok: saved random.bin, sha256 "));
    assert_eq!(entries(inbox.path()), ["random.bin"]);
    assert!(
        std::fs::read(inbox.path().join("random.bin")).unwrap() == contents,
        "the copy differs"
    );
    server.wait_for_line("received: random.bin (52428800 bytes)");
}

#[test]
fn untrusted_names_are_refused_and_nothing_is_written_outside() {
    let parent = TempDir::new().unwrap();
    let inbox = parent.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let source = parent.path().join("source.txt");
    std::fs::write(&source, b"hello").unwrap();
    let (_server, addr) = receiver(&inbox, &[]);
    let addr = addr.to_string();
    for name in ["../escape", "/etc/passwd", "a/b", "", "..", "."] {
        let done = run(
            EXAMPLE,
            &[
                "send",
                source.to_str().unwrap(),
                "--addr",
                &addr,
                "--name",
                name,
            ],
            b"",
        );
        assert_eq!(done.code(), Some(1), "{name:?}: {done:?}");
        assert_eq!(
            done.stderr,
            [format!(
                "error: the receiver refused: the name {name:?} is not a plain file name"
            )]
        );
    }
    assert!(entries(&inbox).is_empty(), "{:?}", entries(&inbox));
    assert_eq!(
        entries(parent.path()),
        ["inbox", "source.txt"],
        "something escaped"
    );
}

/// Sends a header by hand: returns the connection and the receiver's answer.
fn header(addr: SocketAddr, name: &str, size: u64) -> (std::net::TcpStream, String) {
    let mut stream = connect(addr);
    write_frame(&mut stream, name.as_bytes()).unwrap();
    write_frame(&mut stream, &size.to_be_bytes()).unwrap();
    let answer = read_frame(&mut stream, 4096).unwrap().unwrap();
    (stream, String::from_utf8(answer).unwrap())
}

#[test]
fn a_size_over_the_limit_is_refused_before_any_data_is_written() {
    let inbox = TempDir::new().unwrap();
    let (_server, addr) = receiver(inbox.path(), &["--max-size", "1000"]);
    let (mut stream, answer) = header(addr, "big.bin", 1001);
    assert_eq!(
        answer,
        "error: big.bin is 1001 bytes, over the limit of 1000"
    );
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("not closed cleanly");
    assert!(
        entries(inbox.path()).is_empty(),
        "not even a temporary file"
    );
}

#[test]
fn an_interrupted_transfer_leaves_no_file() {
    let inbox = TempDir::new().unwrap();
    let (server, addr) = receiver(inbox.path(), &[]);
    let (mut stream, answer) = header(addr, "half.bin", 10_000_000);
    assert_eq!(answer, "ok");
    write_frame(&mut stream, &vec![7u8; 60_000]).unwrap();
    server.wait_for_line("receiving: half.bin");
    drop(stream); // the sender vanishes mid-transfer
    let line = server.wait_for_stderr_line("interrupted");
    assert!(
        line.contains("after 60000 of 10000000 bytes; nothing saved"),
        "{line}"
    );
    assert!(
        entries(inbox.path()).is_empty(),
        "{:?}",
        entries(inbox.path())
    );
}

/// The sender resets the connection in the middle of a chunk (linger 0, as a crashed host's
/// kernel or a middlebox might): nothing is saved, and the log says why.
#[test]
fn a_transfer_reset_inside_a_chunk_leaves_no_file() {
    use std::io::Write;
    let inbox = TempDir::new().unwrap();
    let (server, addr) = receiver(inbox.path(), &[]);
    let (mut stream, answer) = header(addr, "reset.bin", 10_000_000);
    assert_eq!(answer, "ok");
    let mut frame = Vec::new();
    write_frame(&mut frame, &vec![7u8; 60_000]).unwrap();
    stream.write_all(&frame[..30_000]).unwrap(); // half a chunk
    server.wait_for_line("receiving: reset.bin");
    std::thread::sleep(std::time::Duration::from_millis(100)); // read by the receiver
    socket2::SockRef::from(&stream)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(stream); // a reset, not a FIN
    let line = server.wait_for_stderr_line("reset.bin");
    assert!(
        line.ends_with(
            "after 0 of 10000000 bytes: connection reset by peer \
             (the peer closed the connection abruptly); nothing saved"
        ),
        "{line}"
    );
    assert!(
        entries(inbox.path()).is_empty(),
        "{:?}",
        entries(inbox.path())
    );
}

#[test]
fn a_bad_checksum_saves_nothing_and_says_why() {
    let inbox = TempDir::new().unwrap();
    let (_server, addr) = receiver(inbox.path(), &[]);
    let (mut stream, answer) = header(addr, "damaged.bin", 5);
    assert_eq!(answer, "ok");
    write_frame(&mut stream, b"hello").unwrap();
    write_frame(&mut stream, &[0u8; 32]).unwrap(); // not the SHA-256 of "hello"
    let mut reader = BufReader::new(stream);
    let verdict = read_frame(&mut reader, 4096).unwrap().unwrap();
    assert_eq!(
        String::from_utf8(verdict).unwrap(),
        "error: checksum mismatch: the file was damaged on the way; nothing saved"
    );
    assert!(entries(inbox.path()).is_empty());
}

#[test]
fn an_existing_file_is_kept_unless_overwrite() {
    let inbox = TempDir::new().unwrap();
    let outbox = TempDir::new().unwrap();
    std::fs::write(inbox.path().join("note.txt"), b"old").unwrap();
    let source = outbox.path().join("note.txt");
    std::fs::write(&source, b"new").unwrap();
    let (_server, addr) = receiver(inbox.path(), &[]);
    let done = run(
        EXAMPLE,
        &[
            "send",
            source.to_str().unwrap(),
            "--addr",
            &addr.to_string(),
        ],
        b"",
    );
    assert_eq!(done.code(), Some(1));
    assert!(
        done.stderr[0].contains("note.txt exists already"),
        "{:?}",
        done.stderr
    );
    assert_eq!(
        std::fs::read(inbox.path().join("note.txt")).unwrap(),
        b"old"
    );

    let (_server, addr) = receiver(inbox.path(), &["--overwrite"]);
    let done = run(
        EXAMPLE,
        &[
            "send",
            source.to_str().unwrap(),
            "--addr",
            &addr.to_string(),
        ],
        b"",
    );
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(
        std::fs::read(inbox.path().join("note.txt")).unwrap(),
        b"new"
    );
    assert_eq!(entries(inbox.path()), ["note.txt"]);
}

#[test]
fn a_missing_file_is_one_error_line() {
    let done = run(
        EXAMPLE,
        &["send", "/no/such/file", "--addr", "127.0.0.1:9"],
        b"",
    );
    assert_eq!(done.code(), Some(1));
    assert_eq!(done.stderr.len(), 1);
    assert!(
        done.stderr[0].starts_with("error: cannot open /no/such/file: "),
        "{:?}",
        done.stderr
    );
}

/// Regression: a full receiver turned senders away with the text line `server busy, try again
/// later`, which the sender read as a frame of 0x73657276 = 1,936,028,278 bytes. It is an
/// error frame now, and the sender says what it is.
#[test]
fn a_full_receiver_refuses_in_a_frame_and_the_sender_says_busy() {
    let inbox = TempDir::new().unwrap();
    let outbox = TempDir::new().unwrap();
    let file = outbox.path().join("small.txt");
    std::fs::write(&file, b"hello").unwrap();
    let (server, addr) = receiver(inbox.path(), &[]);
    // 4 workers and 16 places in the queue (the receiver's configuration): 20 silent
    // connections fill them all.
    let silent: Vec<_> = (0..20).map(|_| connect(addr)).collect();
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    while server
        .stdout()
        .iter()
        .filter(|l| l.starts_with("queued: "))
        .count()
        < 20
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            server.stdout()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let done = run(
        EXAMPLE,
        &["send", file.to_str().unwrap(), "--addr", &addr.to_string()],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        ["error: the receiver refused: server busy, try again later"]
    );
    assert!(entries(inbox.path()).is_empty());
    drop(silent);
}

#[test]
fn killing_the_sender_mid_transfer_leaves_no_file() {
    let inbox = TempDir::new().unwrap();
    let outbox = TempDir::new().unwrap();
    let file = outbox.path().join("large.bin");
    // 1 GiB of zeros without writing them (a sparse file): far more than the sender can send
    // before it is killed.
    std::fs::File::create(&file)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (server, addr) =
        receiver(inbox.path(), &["--max-size", &(2u64 << 30).to_string()]);
    let sender = Proc::start(
        EXAMPLE,
        &["send", file.to_str().unwrap(), "--addr", &addr.to_string()],
    );
    server.wait_for_line("receiving: large.bin");
    drop(sender); // SIGKILL, mid-transfer
    let line = server.wait_for_stderr_line("interrupted");
    assert!(
        line.contains("large.bin") && line.ends_with("nothing saved"),
        "{line}"
    );
    assert!(
        entries(inbox.path()).is_empty(),
        "{:?}",
        entries(inbox.path())
    );
}

/// Not a test but a measurement for the chapter: a 256 MiB file through the transfer, next to
/// 256 MiB written raw to a socket whose reader discards it.
///
/// ```text
/// cargo test --release --test 15_file_transfer -- --ignored --nocapture measure
/// ```
#[test]
#[ignore = "a measurement; run it explicitly"]
fn measure_transfer_against_a_raw_stream() {
    use std::io::Write;
    use std::time::Instant;
    const SIZE: u64 = 256 << 20;
    let inbox = TempDir::new().unwrap();
    let outbox = TempDir::new().unwrap();
    let file = outbox.path().join("measure.bin");
    let mut contents = vec![0u8; SIZE as usize];
    StdRng::seed_from_u64(1).fill_bytes(&mut contents);
    std::fs::write(&file, &contents).unwrap();
    drop(contents);

    let (_server, addr) = receiver(inbox.path(), &[]);
    let began = Instant::now();
    let done = run(
        EXAMPLE,
        &["send", file.to_str().unwrap(), "--addr", &addr.to_string()],
        b"",
    );
    let secs = began.elapsed().as_secs_f64();
    assert_eq!(done.code(), Some(0), "{done:?}");
    println!(
        "15_file_transfer: {} MiB in {secs:.2} s = {:.0} MiB/s ({})",
        SIZE >> 20,
        (SIZE >> 20) as f64 / secs,
        done.stdout[0]
    );

    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sink_addr = sink.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = sink.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            match stream.read(&mut buf).unwrap() {
                0 => return total,
                n => total += n as u64,
            }
        }
    });
    let began = Instant::now();
    let mut stream = std::net::TcpStream::connect(sink_addr).unwrap();
    let chunk = vec![1u8; 64 * 1024];
    for _ in 0..SIZE / chunk.len() as u64 {
        stream.write_all(&chunk).unwrap();
    }
    drop(stream);
    assert_eq!(reader.join().unwrap(), SIZE);
    let secs = began.elapsed().as_secs_f64();
    println!(
        "raw loopback stream: {} MiB in {secs:.2} s = {:.0} MiB/s",
        SIZE >> 20,
        (SIZE >> 20) as f64 / secs
    );
}

/// Runs the sender: `source` sent under `name`.
fn send_as(addr: SocketAddr, source: &Path, name: &str) -> common::Finished {
    let (source, addr) = (source.to_str().unwrap(), addr.to_string());
    run(
        EXAMPLE,
        &["send", source, "--addr", &addr, "--name", name],
        b"",
    )
}

/// Issue 11, item 9: names of 240 to 255 bytes passed the check, but the temporary name was
/// 16 bytes longer, over the filesystem's 255: nothing could be saved, and the sender got no
/// answer. Now every accepted name can be saved, and a longer one is refused up front.
#[test]
fn names_up_to_255_bytes_are_saved_and_longer_ones_refused() {
    let inbox = TempDir::new().unwrap();
    let outbox = TempDir::new().unwrap();
    let source = outbox.path().join("source.txt");
    std::fs::write(&source, b"hello").unwrap();
    let (_server, addr) = receiver(inbox.path(), &[]);
    // 240 bytes; and 255 bytes of a 3-byte character, so that cutting the name short for the
    // temporary file's name must mind character boundaries.
    let names = ["n".repeat(240), "€".repeat(85)];
    for name in &names {
        let done = send_as(addr, &source, name);
        assert_eq!(done.code(), Some(0), "{} bytes: {done:?}", name.len());
        assert_eq!(std::fs::read(inbox.path().join(name)).unwrap(), b"hello");
    }
    let long = "n".repeat(256);
    let done = send_as(addr, &source, &long);
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        [format!(
            "error: the receiver refused: the name {long:?} is not a plain file name"
        )]
    );
    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(entries(inbox.path()), expected);
}

/// Issue 11, item 9: a header that is not one got the connection closed with no answer.
#[test]
fn a_malformed_header_gets_an_answer_the_sender_prints() {
    let inbox = TempDir::new().unwrap();
    let outbox = TempDir::new().unwrap();
    let (_server, addr) = receiver(inbox.path(), &[]);
    // A size of 3 bytes instead of 8.
    let mut stream = connect(addr);
    write_frame(&mut stream, b"x.bin").unwrap();
    write_frame(&mut stream, &[0, 0, 1]).unwrap();
    let answer = read_frame(&mut stream, 4096).unwrap().unwrap();
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        "error: malformed header: the size is 3 bytes, not 8"
    );
    // A name frame over the receiver's 1024-byte limit, from the real sender.
    let source = outbox.path().join("source.txt");
    std::fs::write(&source, b"hello").unwrap();
    let done = send_as(addr, &source, &"x".repeat(2000));
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr,
        ["error: the receiver refused: malformed header: the name: \
          a frame of 2000 bytes is over the limit of 1024 bytes"]
    );
    assert!(
        entries(inbox.path()).is_empty(),
        "{:?}",
        entries(inbox.path())
    );
}

/// Issue 11, item 9: control characters in a name reached the receiver's log as they were: a
/// newline forges a log line, an escape sequence rewrites the terminal.
#[test]
fn names_with_control_characters_are_refused_and_never_printed_raw() {
    let inbox = TempDir::new().unwrap();
    let outbox = TempDir::new().unwrap();
    let source = outbox.path().join("source.txt");
    std::fs::write(&source, b"hello").unwrap();
    let (server, addr) = receiver(inbox.path(), &[]);
    let names = [
        "two\nlines",
        "x\r\u{1b}[2Kreceived: passwd",
        "bell\u{7}",
        "c1\u{9b}2J",
    ];
    for name in names {
        let done = send_as(addr, &source, name);
        assert_eq!(done.code(), Some(1), "{name:?}: {done:?}");
        assert_eq!(
            done.stderr,
            [format!(
                "error: the receiver refused: the name {name:?} contains control characters"
            )]
        );
    }
    assert!(
        entries(inbox.path()).is_empty(),
        "{:?}",
        entries(inbox.path())
    );
    // One error line per refusal in the receiver's log, each escaped.
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    let refusals = || {
        server
            .stderr()
            .into_iter()
            .filter(|l| l.contains("contains control characters"))
            .count()
    };
    while refusals() < names.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(refusals(), names.len(), "{:?}", server.stderr());
    for line in server.stderr().iter().chain(&server.stdout()) {
        assert!(!line.contains(|c: char| c.is_control()), "raw: {line:?}");
    }
}

/// Issue 11, item 9: a dangling symbolic link looked like "nothing there" to `exists()`, so
/// the whole upload was taken before the final rename failed. Anything at the name — a link
/// pointing nowhere, a directory — is refused before any data; `--overwrite` replaces only a
/// regular file.
#[cfg(unix)]
#[test]
fn a_name_taken_by_anything_is_refused_before_any_data() {
    let inbox = TempDir::new().unwrap();
    std::os::unix::fs::symlink("nowhere", inbox.path().join("ghost")).unwrap();
    std::fs::create_dir(inbox.path().join("folder")).unwrap();
    let (_server, addr) = receiver(inbox.path(), &[]);
    for name in ["ghost", "folder"] {
        let (_stream, answer) = header(addr, name, 10_000_000);
        assert_eq!(
            answer,
            format!(
                "error: {name} exists already (the receiver can allow --overwrite)"
            )
        );
    }
    let (_server, addr) = receiver(inbox.path(), &["--overwrite"]);
    for name in ["ghost", "folder"] {
        let (_stream, answer) = header(addr, name, 10_000_000);
        assert_eq!(
            answer,
            format!("error: {name} exists and is not a regular file")
        );
    }
    assert_eq!(entries(inbox.path()), ["folder", "ghost"]);
    assert_eq!(
        std::fs::read_link(inbox.path().join("ghost")).unwrap(),
        Path::new("nowhere")
    );
}

/// A sender that trickles: one byte every 0.2 s. Each `read` gets its byte well within any
/// read timeout; only a deadline on the whole frame (here `--frame-timeout 1`) frees the worker.
#[test]
fn a_sender_that_trickles_is_cut_off() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let inbox = TempDir::new().unwrap();
    let (server, addr) = receiver(inbox.path(), &["--frame-timeout", "1"]);

    // Trickling the data: the header in time, then a 64 KiB chunk, byte by byte.
    let (mut stream, answer) = header(addr, "slow.bin", 65536);
    assert_eq!(answer, "ok");
    let mut frame = Vec::new();
    write_frame(&mut frame, &vec![1u8; 65536]).unwrap();
    let started = Instant::now();
    for byte in &frame[..50] {
        let cut = server.stderr().iter().any(|l| l.contains("slow.bin"));
        if cut || stream.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let line = server.wait_for_stderr_line("slow.bin");
    assert!(started.elapsed() < Duration::from_secs(4), "{line}");
    assert!(
        line.ends_with(
            "was interrupted after 0 of 65536 bytes: slower than the minimum of \
             16384 bytes/s for over 1 s (is the peer alive and reading?); nothing saved"
        ),
        "{line}"
    );

    // Trickling the header: refused, with an answer.
    let mut stream = connect(addr);
    let mut frame = Vec::new();
    write_frame(&mut frame, b"slow.txt").unwrap();
    for byte in &frame[..6] {
        stream.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    let answer = read_frame(&mut stream, 4096).unwrap().unwrap();
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        "error: malformed header: the name: no complete frame within 1 s \
         (is the peer alive and reading?)"
    );
    assert!(
        entries(inbox.path()).is_empty(),
        "{:?}",
        entries(inbox.path())
    );
}

/// Senders that are alive but move nothing: whole frames, on time, that carry no data (or one
/// byte). Every frame would restart a frame timer; only data moves the deadline of the contents,
/// so each is cut off about one frame timeout in, and an honest sender still gets through.
#[test]
fn senders_of_empty_or_one_byte_frames_are_cut_off_progress_not_activity() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let inbox = TempDir::new().unwrap();
    let (server, addr) = receiver(
        inbox.path(),
        &["--frame-timeout", "1", "--min-rate", "10000"],
    );
    for (name, payload) in [("empty.bin", &b""[..]), ("byte.bin", &b"x"[..])] {
        let (mut stream, answer) = header(addr, name, 1 << 20);
        assert_eq!(answer, "ok");
        let started = Instant::now();
        // A frame every 0.2 s: five times the frame timeout's rate, for up to 5 s.
        while started.elapsed() < Duration::from_secs(5) {
            if server.stderr().iter().any(|l| l.contains(name)) {
                break;
            }
            if write_frame(&mut stream, payload).is_err() || stream.flush().is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let line = server.wait_for_stderr_line(name);
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(3500),
            "{name}: cut off after {took:?}: {line}"
        );
        assert!(
            line.contains("slower than the minimum of 10000 bytes/s for over 1 s"),
            "{line}"
        );
    }
    // An honest sender at full speed is unaffected.
    let source = TempDir::new().unwrap();
    let file = source.path().join("fast.bin");
    std::fs::write(&file, vec![7u8; 4 << 20]).unwrap();
    let done = send_as(addr, &file, "fast.bin");
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(entries(inbox.path()), ["fast.bin"]);
}

/// Ctrl-C with transfers in flight (their senders mid-chunk, and one that never sends a
/// header): the receiver stops within about the grace period, exit code 0, and leaves no
/// partial file behind.
#[cfg(unix)]
#[test]
fn ctrl_c_mid_transfer_stops_promptly_and_saves_nothing() {
    use std::io::Write;
    let inbox = TempDir::new().unwrap();
    let (server, addr) = receiver(inbox.path(), &[]);
    let mut streams = Vec::new();
    for name in ["one.bin", "two.bin"] {
        let (mut stream, answer) = header(addr, name, 10_000_000);
        assert_eq!(answer, "ok");
        let mut frame = Vec::new();
        write_frame(&mut frame, &vec![7u8; 60_000]).unwrap();
        stream.write_all(&frame[..30_000]).unwrap();
        server.wait_for_line(&format!("receiving: {name}"));
        streams.push(stream);
    }
    streams.push(connect(addr)); // says nothing
    assert_eq!(
        entries(inbox.path()).len(),
        2,
        "two partial files while receiving"
    );
    server.sigint();
    let finished = server.wait(common::TIMEOUT);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert!(
        finished.elapsed < std::time::Duration::from_secs(3),
        "{:?}",
        finished.elapsed
    );
    assert!(
        finished
            .stdout
            .last()
            .unwrap()
            .starts_with("shutting down: ")
    );
    assert!(
        entries(inbox.path()).is_empty(),
        "{:?}",
        entries(inbox.path())
    );
}

#[test]
fn a_port_in_use_is_one_error_line_and_exit_1() {
    let inbox = TempDir::new().unwrap();
    let dir = inbox.path().to_str().unwrap();
    common::assert_refuses_a_port_in_use_with(EXAMPLE, &["receive", "--dir", dir]);
}
