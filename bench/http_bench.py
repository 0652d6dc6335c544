"""Chapter 19's benchmark: requests per second and the server's CPU per request, with
keep-alive and without, for three servers answering the same small page (`GET /hello`,
13 bytes), side by side in one run.

Run from the repository's root (Linux; needs `wrk`, e.g. `apt-get install wrk`):

    python3 bench/http_bench.py                 # prints the table
    python3 bench/http_bench.py --write         # and writes book/src/benchmarks/19-http.md

The servers: examples/19_http_server.rs (release build), hyper's smallest server
(bench/http_yardstick, release build, its own target folder) and python/http_server.py.
Each measurement is `wrk -t2 -c16 -dNs`; the server's CPU time is read from /proc/PID/stat
(user + system) before and after it, and its context switches from /proc/PID/task/*/status. The servers take turns within each round, so that a
change in the machine's load falls on all of them alike; the figure shown is the median of
the rounds, with the spread (the round farthest from the median).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "book", "src", "benchmarks", "19-http.md")
TICKS = os.sysconf("SC_CLK_TCK")


def build():
    subprocess.run(["cargo", "build", "--quiet", "--release", "--example", "19_http_server"],
                   cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--quiet", "--release", "--manifest-path",
                    "bench/http_yardstick/Cargo.toml"], cwd=ROOT, check=True)


SERVERS = [
    ("19, our server", ["target/release/examples/19_http_server", "--addr", "127.0.0.1:0"]),
    ("hyper 1 on tokio", ["bench/http_yardstick/target/release/http-yardstick", "127.0.0.1:0"]),
    ("Python http.server", [sys.executable, "python/http_server.py", "--addr", "127.0.0.1:0"]),
]


class Server:
    def __init__(self, name, argv):
        self.name = name
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        first = self.proc.stdout.readline().strip()
        if not first.startswith("listening on "):
            sys.exit("error: %s printed %r, not `listening on ADDR`" % (name, first))
        self.addr = first[len("listening on "):]
        # Keep draining its stdout (one line per connection for ours): a full pipe blocks.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def cpu(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime, seconds

    def switches(self):
        """Context switches so far, voluntary and not, summed over the server's threads."""
        total = 0
        for task in os.listdir("/proc/%d/task" % self.proc.pid):
            try:
                with open("/proc/%d/task/%s/status" % (self.proc.pid, task)) as f:
                    for line in f:
                        if "ctxt_switches" in line:
                            total += int(line.split()[1])
            except FileNotFoundError:
                pass  # a thread that ended meanwhile
        return total

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def wrk(addr, seconds, keep_alive):
    argv = ["wrk", "-t2", "-c16", "-d%ds" % seconds, "http://%s/hello" % addr]
    if not keep_alive:
        argv[1:1] = ["-H", "Connection: close"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return rate, requests, int(bad.group(1)) if bad else 0, errors.group(1) if errors else ""


def spread(values):
    mid = statistics.median(values)
    far = max(abs(v - mid) for v in values)
    return mid, (100 * far / mid if mid else 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median shown)")
    parser.add_argument("--write", action="store_true", help="write " + os.path.relpath(OUT, ROOT))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("error: wrk is not installed (apt-get install wrk)")
    build()
    load_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    servers = [Server(name, argv) for name, argv in SERVERS]
    results = {}  # (server, keep_alive) -> [(rate, cpu per request in µs)]
    problems = []
    try:
        time.sleep(0.5)
        for _ in range(args.rounds):
            for keep_alive in (True, False):
                for server in servers:
                    cpu0, switches0 = server.cpu(), server.switches()
                    rate, requests, bad, errors = wrk(server.addr, args.seconds, keep_alive)
                    cpu = server.cpu() - cpu0
                    switches = server.switches() - switches0
                    if bad or errors:
                        problems.append("%s, %s: %d non-2xx, socket errors %s" % (
                            server.name, "keep-alive" if keep_alive else "close", bad, errors))
                    per_request = 1e6 * cpu / requests if requests else float("nan")
                    per_switch = switches / requests if requests else float("nan")
                    results.setdefault((server.name, keep_alive), []).append(
                        (rate, per_request, per_switch))
    finally:
        for server in servers:
            server.stop()
    load_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    def cell(name, keep_alive, i, fmt):
        mid, far = spread([r[i] for r in results[(name, keep_alive)]])
        return (fmt % mid) + " ±%.0f%%" % far

    lines = [
        "| server | keep-alive (requests/s) | CPU per request, keep-alive (µs) "
        "| context switches per request, keep-alive "
        "| new connection per request (requests/s) | CPU per request, new connection (µs) |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, _ in SERVERS:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            name, cell(name, True, 0, "%.0f"), cell(name, True, 1, "%.1f"),
            cell(name, True, 2, "%.2f"), cell(name, False, 0, "%.0f"),
            cell(name, False, 1, "%.1f")))
    ours, lib = SERVERS[0][0], SERVERS[1][0]

    def ratio(keep_alive, i):
        return (statistics.median(r[i] for r in results[(ours, keep_alive)]) /
                statistics.median(r[i] for r in results[(lib, keep_alive)]))

    text = "\n".join([
        "Machine: %s, %d cores. Load (`uptime`) before: `%s`; after: `%s`." % (
            os.uname().sysname + " " + os.uname().release, os.cpu_count(),
            load_before.split("load average: ")[-1], load_after.split("load average: ")[-1]),
        "",
        "`wrk -t2 -c16 -d%ds`, %d rounds, the servers in turn within each round; median, ± the "
        "round farthest from it. CPU: the server's user + system time from `/proc/PID/stat`; "
        "context switches: `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of every "
        "thread in `/proc/PID/task/*/status`."
        % (args.seconds, args.rounds),
        "",
        *lines,
        "",
        "Ours ÷ hyper's, keep-alive: **%.2f×** the requests per second, **%.2f×** the CPU per "
        "request. With a new connection per request: %.2f× and %.2f×." % (
            ratio(True, 0), ratio(True, 1), ratio(False, 0), ratio(False, 1)),
        "",
    ])
    if problems:
        text += "\nErrors seen: " + "; ".join(problems) + "\n"
    # wrk's own figures for keep-alive rates are large: group their digits.
    text = re.sub(r"\| (\d{4,})(\.\d+)? ±", lambda m: "| {:,} ±".format(int(m.group(1))), text)
    print(text)
    if args.write:
        with open(OUT, "w") as f:
            f.write("<!-- Written by `python3 bench/http_bench.py --write`; do not edit. -->\n\n")
            f.write(text)
        print("wrote", os.path.relpath(OUT, ROOT))


if __name__ == "__main__":
    main()
