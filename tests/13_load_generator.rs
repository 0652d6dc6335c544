//! Tests of `examples/13_load_generator.rs`: against real servers it reports positive figures,
//! all verified; against deliberately broken echo servers (the test's own) it fails, saying why.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::Duration;

use common::{Proc, TIMEOUT, run};

const EXAMPLE: &str = "13_load_generator";

/// The value of `"key":` in a one-line JSON object (numbers and booleans).
fn field(json: &str, key: &str) -> String {
    let start = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + key.len()
        + 3;
    json[start..]
        .split([',', '}'])
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string()
}

#[test]
fn pingpong_against_the_threaded_server_reports_a_verified_positive_rate() {
    let (_server, addr) = Proc::server("04_threaded_server", &["--addr", "127.0.0.1:0"]);
    let args = [
        "pingpong",
        "--addr",
        &addr.to_string(),
        "--clients",
        "4",
        "--count",
        "50",
        "--json",
    ];
    let done = run(EXAMPLE, &args, b"");
    assert_eq!(done.code(), Some(0), "{done:?}");
    let json = &done.stdout[0];
    assert_eq!(field(json, "round_trips"), "200");
    assert!(
        field(json, "per_sec").parse::<f64>().unwrap() > 0.0,
        "{json}"
    );
    assert_eq!(field(json, "verified"), "true");
}

#[test]
fn stream_hold_and_framed_report_verified_figures() {
    let (_poll, addr) = Proc::server("08_poll_server", &["--addr", "127.0.0.1:0"]);
    let addr = addr.to_string();
    let stream = run(
        EXAMPLE,
        &[
            "stream",
            "--addr",
            &addr,
            "--connections",
            "2",
            "--secs",
            "0.5",
            "--json",
        ],
        b"",
    );
    assert_eq!(stream.code(), Some(0), "{stream:?}");
    assert!(
        field(&stream.stdout[0], "mb_per_sec")
            .parse::<f64>()
            .unwrap()
            > 0.0
    );

    let hold = run(
        EXAMPLE,
        &["hold", "--addr", &addr, "--connections", "300"],
        b"",
    );
    assert_eq!(hold.code(), Some(0), "{hold:?}");
    assert!(
        hold.stdout[0].starts_with("hold: 300 connections opened in "),
        "{:?}",
        hold.stdout
    );

    let (_framed, framed_addr) =
        Proc::server("12_framed_messages", &["server", "--addr", "127.0.0.1:0"]);
    let framed = run(
        EXAMPLE,
        &[
            "framed",
            "--addr",
            &framed_addr.to_string(),
            "--clients",
            "2",
            "--count",
            "20",
        ],
        b"",
    );
    assert_eq!(framed.code(), Some(0), "{framed:?}");
    assert!(
        framed.stdout[0].starts_with("framed: 2 client(s), 64-byte messages: 40 round trips"),
        "{:?}",
        framed.stdout
    );
}

/// A broken echo server: `flip` flips one byte of every 1000th read; otherwise it closes each
/// connection after its first read.
fn broken_server(flip: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                let mut buf = [0u8; 4096];
                let mut reads = 0u64;
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    if !flip {
                        return; // drop the connection without echoing
                    }
                    reads += 1;
                    if reads % 1000 == 3 {
                        buf[n / 2] ^= 0x40;
                    }
                    if stream.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_server_that_flips_a_byte_fails_the_run() {
    let addr = broken_server(true);
    let done = run(
        EXAMPLE,
        &["pingpong", "--addr", &addr.to_string(), "--count", "20"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(
        done.stdout.is_empty(),
        "no figures for a failed run: {:?}",
        done.stdout
    );
    assert_eq!(done.stderr.len(), 1, "{:?}", done.stderr);
    assert!(
        done.stderr[0].starts_with("error: the run failed; no figures are reported: echo from "),
        "{:?}",
        done.stderr
    );
    assert!(
        done.stderr[0].contains("differs at byte 32 (client 0, round 2)"),
        "{:?}",
        done.stderr
    );
}

#[test]
fn stream_reports_a_corrupted_echo_as_the_mismatch_at_once() {
    // Issue 11, item 11: the writer used to go on after the reader found the mismatch, block
    // once the buffers were full, and the run failed with the writer's 10-second timeout
    // ("cannot send … timed out") instead of the mismatch.
    let addr = broken_server(true);
    let done = run(
        EXAMPLE,
        &["stream", "--addr", &addr.to_string(), "--secs", "2"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(done.stdout.is_empty(), "{:?}", done.stdout);
    assert_eq!(done.stderr.len(), 1, "{:?}", done.stderr);
    assert!(
        done.stderr[0].contains(&format!("echo from {addr} differs at byte ")),
        "{:?}",
        done.stderr
    );
    assert!(
        done.elapsed < Duration::from_secs(8),
        "took {:?}",
        done.elapsed
    );
}

#[test]
fn a_server_that_drops_the_connection_fails_the_run() {
    let addr = broken_server(false);
    let done = run(
        EXAMPLE,
        &["pingpong", "--addr", &addr.to_string(), "--count", "20"],
        b"",
    );
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(done.stdout.is_empty());
    assert!(
        done.stderr[0].contains(&format!("{addr} closed the connection (client 0, round 0)")),
        "{:?}",
        done.stderr
    );
}

/// One server of the comparison, and what it can be asked to do.
struct Contender {
    label: &'static str,
    start: Box<dyn Fn() -> (Proc, SocketAddr)>,
    /// Speaks frames (chapter 12) rather than raw echo.
    framed: bool,
    /// Serves one client at a time (03): only the one-client loads.
    one_at_a_time: bool,
    /// Bounded by a pool: refuses connections beyond workers + queue, so `hold` is not run.
    bounded: bool,
}

fn contenders() -> Vec<Contender> {
    let example = |name: &'static str,
                   args: &'static [&'static str]|
     -> Box<dyn Fn() -> (Proc, SocketAddr)> {
        Box::new(move || {
            let mut all = args.to_vec();
            all.extend(["--addr", "127.0.0.1:0"]);
            Proc::server(name, &all)
        })
    };
    let python = |script: &'static str| -> Box<dyn Fn() -> (Proc, SocketAddr)> {
        Box::new(move || {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("bench")
                .join(script);
            let mut command = std::process::Command::new("python3");
            command.arg(path).arg("127.0.0.1:0");
            Proc::spawn(script, command).listening()
        })
    };
    let plain = |label, start| Contender {
        label,
        start,
        framed: false,
        one_at_a_time: false,
        bounded: false,
    };
    let mut all = vec![
        Contender {
            one_at_a_time: true,
            ..plain("03 sequential", example("03_sequential_server", &[]))
        },
        plain("04 thread per client", example("04_threaded_server", &[])),
        Contender {
            bounded: true,
            ..plain(
                "05 pool, 64 workers",
                example(
                    "05_thread_pool_server",
                    &["--workers", "64", "--queue", "64"],
                ),
            )
        },
        plain("07 non-blocking loop", example("07_nonblocking_loop", &[])),
        plain("08 poll", example("08_poll_server", &[])),
        plain("18 tokio tasks", example("18_async_server", &["echo"])),
        Contender {
            framed: true,
            bounded: true,
            ..plain(
                "12 framed, 64 workers",
                example("12_framed_messages", &["server", "--workers", "64"]),
            )
        },
    ];
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        all.push(plain("Python threads", python("python_threaded_echo.py")));
        all.push(plain(
            "Python selectors",
            python("python_selectors_echo.py"),
        ));
    }
    all
}

/// Runs the load generator, returns its JSON line (panics if the run failed: no figure from a
/// failed run).
fn load(args: &[&str]) -> String {
    // Opening thousands of connections against a backlog of 128 can take a minute (chapter 06).
    let done = Proc::start(EXAMPLE, args).wait(std::time::Duration::from_secs(180));
    assert_eq!(done.code(), Some(0), "{args:?}: {done:?}");
    done.stdout[0].clone()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The benchmark of chapter 13: every echo server under the same loads, three repetitions,
/// medians. Writes `book/src/benchmarks/results.md` and `book/src/benchmarks/chart.svg`.
///
/// ```text
/// cargo test --release --test 13_load_generator -- --ignored --nocapture bench
/// ```
#[cfg(target_os = "linux")]
#[test]
#[ignore = "the benchmark; run it explicitly, in release mode"]
fn bench_every_server() {
    const REPS: usize = 3;
    let secs = "1";
    let mut rows = Vec::new();
    let mut chart = Vec::new();
    for contender in contenders() {
        // (label of the load, values of the repetitions)
        let mut figures: Vec<(&str, Vec<f64>)> = Vec::new();
        let mut record =
            |name: &'static str, value: f64| match figures.iter_mut().find(|(n, _)| *n == name) {
                Some((_, values)) => values.push(value),
                None => figures.push((name, vec![value])),
            };
        let mut cpu_percent = Vec::new();
        let mut rss_mib = Vec::new();
        for _ in 0..REPS {
            let (server, addr) = (contender.start)();
            let addr = addr.to_string();
            let mode = if contender.framed {
                "framed"
            } else {
                "pingpong"
            };
            // Warm-up: one short run that is not counted.
            load(&[
                mode,
                "--addr",
                &addr,
                "--clients",
                "1",
                "--secs",
                "0.2",
                "--json",
            ]);
            let one = load(&[
                mode,
                "--addr",
                &addr,
                "--clients",
                "1",
                "--secs",
                secs,
                "--json",
            ]);
            record("pingpong 1", field(&one, "per_sec").parse().unwrap());
            if !contender.one_at_a_time {
                let ticks = common::cpu_ticks(server.pid());
                let began = std::time::Instant::now();
                let fifty = load(&[
                    mode,
                    "--addr",
                    &addr,
                    "--clients",
                    "50",
                    "--secs",
                    secs,
                    "--json",
                ]);
                let used = (common::cpu_ticks(server.pid()) - ticks) as f64 / 100.0;
                cpu_percent.push(used / began.elapsed().as_secs_f64() * 100.0);
                record("pingpong 50", field(&fifty, "per_sec").parse().unwrap());
                record("p99 50", field(&fifty, "p99_ms").parse().unwrap());
            }
            if !contender.framed {
                let s1 = load(&[
                    "stream",
                    "--addr",
                    &addr,
                    "--connections",
                    "1",
                    "--secs",
                    secs,
                    "--json",
                ]);
                record("stream 1", field(&s1, "mb_per_sec").parse().unwrap());
                if !contender.one_at_a_time {
                    let s4 = load(&[
                        "stream",
                        "--addr",
                        &addr,
                        "--connections",
                        "4",
                        "--secs",
                        secs,
                        "--json",
                    ]);
                    record("stream 4", field(&s4, "mb_per_sec").parse().unwrap());
                }
            }
            if !contender.one_at_a_time && !contender.bounded {
                for (name, n) in [("hold 1000", "1000"), ("hold 5000", "5000")] {
                    let held = load(&["hold", "--addr", &addr, "--connections", n, "--json"]);
                    record(name, field(&held, "open_secs").parse().unwrap());
                }
            }
            rss_mib.push(common::rss_kib(server.pid()) as f64 / 1024.0);
        }
        let get = |name: &str| {
            figures
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| median(v.clone()))
        };
        let show = |value: Option<f64>, digits: usize| {
            value.map_or("–".to_string(), |v| format!("{v:.digits$}"))
        };
        let cpu = if cpu_percent.is_empty() {
            None
        } else {
            Some(median(cpu_percent))
        };
        rows.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            contender.label,
            show(get("pingpong 1"), 0),
            show(get("pingpong 50"), 0),
            show(get("p99 50"), 2),
            show(get("stream 1"), 0),
            show(get("stream 4"), 0),
            show(get("hold 1000"), 2),
            show(get("hold 5000"), 2),
            show(cpu, 0),
            show(Some(median(rss_mib)), 1),
        ));
        println!("{}", rows.last().unwrap());
        chart.push((contender.label, get("pingpong 50"), get("stream 4")));
    }

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/benchmarks");
    std::fs::create_dir_all(&dir).unwrap();
    let mut table = String::from(
        "| server | pingpong, 1 client (round trips/s) | pingpong, 50 clients (round trips/s) | \
         p99 at 50 clients (ms) | stream, 1 connection (MB/s) | stream, 4 connections (MB/s) | \
         hold 1,000: seconds to open | hold 5,000: seconds to open | server CPU at 50 clients \
         (% of one core) | server RSS at the end (MiB) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &rows {
        table.push_str(row);
        table.push('\n');
    }
    std::fs::write(dir.join("results.md"), table).unwrap();
    std::fs::write(dir.join("chart.svg"), svg(&chart)).unwrap();
}

/// Two horizontal bar charts, drawn from the figures (not by hand): round trips per second at
/// 50 clients, and MB/s with 4 streams.
fn svg(rows: &[(&str, Option<f64>, Option<f64>)]) -> String {
    let (width, bar_height, label_width, chart_width) = (900.0, 22.0, 190.0, 250.0);
    let height = 60.0 + rows.len() as f64 * (bar_height + 8.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{label_width}\" y=\"20\" font-weight=\"bold\">pingpong, 50 clients (round trips/s)</text>\n\
         <text x=\"{}\" y=\"20\" font-weight=\"bold\">stream, 4 connections (MB/s)</text>\n",
        label_width + chart_width + 160.0
    );
    for (column, pick) in [(0usize, 1usize), (1, 2)] {
        let values: Vec<Option<f64>> = rows
            .iter()
            .map(|r| if pick == 1 { r.1 } else { r.2 })
            .collect();
        let max = values.iter().flatten().cloned().fold(1.0, f64::max);
        let x0 = label_width + column as f64 * (chart_width + 160.0);
        for (i, (label, value)) in rows.iter().map(|r| r.0).zip(&values).enumerate() {
            let y = 40.0 + i as f64 * (bar_height + 8.0);
            if column == 0 {
                out.push_str(&format!(
                    "<text x=\"5\" y=\"{}\">{label}</text>\n",
                    y + 16.0
                ));
            }
            match value {
                Some(v) => {
                    let w = (v / max * chart_width).max(1.0);
                    out.push_str(&format!(
                        "<rect x=\"{x0}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bar_height}\" fill=\"#4a7bb7\"/>\n\
                         <text x=\"{:.1}\" y=\"{}\">{v:.0}</text>\n",
                        x0 + w + 5.0,
                        y + 16.0
                    ));
                }
                None => out.push_str(&format!(
                    "<text x=\"{x0}\" y=\"{}\" fill=\"#888\">not run</text>\n",
                    y + 16.0
                )),
            }
        }
    }
    out.push_str("</svg>\n");
    out
}

/// The ceiling for `stream` with one connection on this machine: the simplest possible echo —
/// one blocking thread copying 256 KiB at a time, no logging, no shutdown handling — measured
/// with the same load generator. Three runs, the median.
///
/// ```text
/// cargo test --release --test 13_load_generator -- --ignored --nocapture ceiling
/// ```
#[test]
#[ignore = "a measurement; run it explicitly, in release mode"]
fn measure_the_echo_ceiling() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let runs: Vec<f64> = (0..3)
        .map(|_| {
            let json = load(&[
                "stream",
                "--addr",
                &addr.to_string(),
                "--connections",
                "1",
                "--secs",
                "1",
                "--json",
            ]);
            field(&json, "mb_per_sec").parse().unwrap()
        })
        .collect();
    println!(
        "echo ceiling, 1 connection: {runs:?} MB/s, median {:.0}",
        median(runs.clone())
    );
}
