//! Every whole-number option of every example is checked by clap before the program starts
//! (`cli::number`): a value out of range is one `error: invalid value …` line naming the range,
//! exit code 2, and nothing started. Out of range these values used to panic (`--workers 0`,
//! `18 chat --outbox 0` once per join), overflow (`--max-line 2^64-1`, `--max-request
//! 2^64-1`) or start a server that could never serve (`08 --max-pending 0` never reads).

mod common;

/// 2^64 − 1: the largest value a `u64` (and on 64-bit machines a `usize`) can hold.
const HUGE: &str = "18446744073709551615";

#[test]
fn every_numeric_option_out_of_range_is_a_clear_argument_error() {
    let addr = ["--addr", "127.0.0.1:0"];
    #[rustfmt::skip]
    let cases: &[(&str, &[&str], &str)] = &[
        ("02_echo_client", &["--size", "1099511627777"], "is not in 0..=1099511627776"),
        ("05_thread_pool_server", &["--workers", "0"], "is not in 1..=65535"),
        ("05_thread_pool_server", &["--queue", "65536"], "is not in 0..=65535"),
        ("05_thread_pool_server", &["--max-line", "0"], "is not in 1..=1048576"),
        ("07_nonblocking_loop", &["--nap", "1001"], "is not in 0..=1000"),
        ("07_nonblocking_loop", &["--max-pending", "0"], "is not in 1..=1073741824"),
        ("08_poll_server", &["--max-pending", "0"], "is not in 1..=1073741824"),
        ("09_udp_time_server", &["--max-request", HUGE], "is not in 1..=65507"),
        ("09_udp_time_server", &["--max-request", "0"], "is not in 1..=65507"),
        ("10_udp_time_client", &["--retries", "11"], "is not in 0..=10"),
        ("11_sticky_packets", &["--messages", "0"], "is not in 1..=1000"),
        ("12_framed_messages", &["server", "--workers", "0"], "is not in 1..=1024"),
        ("12_framed_messages", &["server", "--queue", "65537"], "is not in 0..=65536"),
        ("12_framed_messages", &["server", "--max-frame", "0"], "is not in 1..=4294967295"),
        ("12_framed_messages", &["client", "--count", "10001"], "is not in 0..=10000"),
        ("13_load_generator", &["pingpong", "--clients", "0"], "is not in 1..=10000"),
        ("13_load_generator", &["pingpong", "--size", "0"], "is not in 1..=16777216"),
        ("13_load_generator", &["framed", "--count", "0"], "is not in 1.."),
        ("13_load_generator", &["stream", "--connections", "0"], "is not in 1..=1024"),
        ("13_load_generator", &["hold", "--connections", "0"], "is not in 1..=1000000"),
        ("14_chat_room", &["server", "--outbox", "0"], "is not in 1..=65536"),
        ("14_chat_room", &["server", "--max-line", HUGE], "is not in 1..=1048576"),
        ("15_file_transfer", &["receive", "--dir", ".", "--max-size", "1GB"], "invalid digit"),
        ("18_async_server", &["--workers", "0", "echo"], "is not in 1..=1024"),
        ("18_async_server", &["chat", "--workers", "0"], "is not in 1..=1024"),
        ("18_async_server", &["chat", "--outbox", "0"], "is not in 1..=65536"),
        ("18_async_server", &["chat", "--max-line", HUGE], "is not in 1..=1048576"),
    ];
    for (example, args, why) in cases {
        // `--addr 127.0.0.1:0` too, so that a program that does start listens on a free port.
        let mut all = args.to_vec();
        if !matches!(
            *example,
            "02_echo_client"
                | "10_udp_time_client"
                | "12_framed_messages"
                | "13_load_generator"
        ) {
            all.extend_from_slice(&addr);
        }
        let done = common::run(example, &all, b"");
        let shown = format!("{example} {}: {done:?}", args.join(" "));
        assert_eq!(done.code(), Some(2), "{shown}");
        assert!(done.stdout.is_empty(), "{shown}");
        let first = &done.stderr[0];
        assert!(first.starts_with("error: invalid value '"), "{shown}");
        assert!(first.contains(why), "{shown}");
        assert!(
            !done.stderr.iter().any(|l| l.contains("panicked")),
            "{shown}"
        );
    }
}
