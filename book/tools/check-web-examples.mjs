// Checks chapter 19's server in headless Chromium, as a reader's browser uses it: the built-in
// page loads, its link with a query string, its chunked page and its form (a POST) give the
// answers the chapter says, a missing page is a 404; and, given the built book, the server
// serves the book itself: its first page and chapter 19, in both editions, with every request
// the pages make (style sheets, scripts, fonts, images) answered 200. Then Ctrl-C, and the
// server must exit 0. Bounded in time; each failure says what was expected and what was seen.
//
//   node book/tools/check-web-examples.mjs [--book book/book]
//
// The server is started the way a reader starts it: `cargo run --example 19_http_server --
// --addr 127.0.0.1:0` (from the repository's root), its address read from its first line.
// Chromium: $CHROMIUM, or /usr/bin/chromium (Debian's package `chromium`).
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const bookAt = process.argv.indexOf("--book");
const book = bookAt > 0 ? path.resolve(process.argv[bookAt + 1]) : null;
const deadline = setTimeout(() => {
    console.error("error: the web examples check took over 5 minutes: stopped");
    process.exit(1);
}, 5 * 60 * 1000);

const failures = [];
const expect = (what, seen, wanted) => {
    if (seen !== wanted) failures.push(`${what}: expected ${JSON.stringify(wanted)}, saw ${JSON.stringify(seen)}`);
};

// Starts the example and resolves with its address once it printed `listening on ADDR`.
function startServer(args) {
    const child = spawn("cargo", ["run", "--quiet", "--example", "19_http_server", "--",
        "--addr", "127.0.0.1:0", ...args], { cwd: repo, stdio: ["ignore", "pipe", "inherit"] });
    const lines = [];
    const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    const address = new Promise((resolve, reject) => {
        createInterface({ input: child.stdout }).on("line", (line) => {
            lines.push(line);
            if (lines.length === 1) {
                const m = /^listening on (.+)$/.exec(line);
                m ? resolve(m[1]) : reject(new Error(`first line is not "listening on ADDR": ${line}`));
            }
        });
        exited.then(({ code }) => reject(new Error(`the server exited (${code}) before listening`)));
    });
    return { child, lines, exited, address };
}

// Ctrl-C: the server must exit 0 within a few seconds and say so last.
async function stopServer(server, what) {
    server.child.kill("SIGINT");
    const timer = new Promise((resolve) => setTimeout(() => resolve({ code: "timeout" }), 5000));
    const { code } = await Promise.race([server.exited, timer]);
    expect(`${what}: exit code after Ctrl-C`, code, 0);
    const last = server.lines[server.lines.length - 1] ?? "";
    expect(`${what}: last line starts with "shutting down"`, last.startsWith("shutting down"), true);
}

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(10000);
page.on("pageerror", (err) => failures.push(`${page.url()}: JavaScript error: ${err.message}`));

// 1. The built-in page, and what its links and its form lead to.
const demo = startServer([]);
try {
    const base = `http://${await demo.address}`;
    const response = await page.goto(`${base}/`);
    expect("GET / status", response?.status(), 200);
    expect("the page's title", await page.title(), "socket-workbook 19");
    expect("the page's heading", await page.textContent("h1"), "Served by your own HTTP server");

    await Promise.all([page.waitForURL(`${base}/hello?name=browser`), page.click("#hello")]);
    expect("the query string's answer", await page.textContent("body"), "hello, browser\n");

    await page.goBack();
    await Promise.all([page.waitForURL(`${base}/chunked`), page.click("#chunked")]);
    expect("the chunked page, decoded", await page.textContent("body"),
        "part 1 of 3\npart 2 of 3\npart 3 of 3\n");

    await page.goBack();
    const [posted] = await Promise.all([page.waitForNavigation(), page.click("#echo button")]);
    expect("POST /echo status", posted?.status(), 200);
    expect("the form's body, echoed", await page.textContent("body"), "text=hello+from+a+form");

    const missing = await page.goto(`${base}/no-such-page`);
    expect("a missing page's status", missing?.status(), 404);
} catch (err) {
    failures.push(`the built-in page: ${err.message}`);
}
await stopServer(demo, "the built-in page");

// 2. The book, served by the reader's own server.
if (book !== null) {
    if (!existsSync(path.join(book, "index.html"))) {
        failures.push(`${book}/index.html does not exist: build the book first (book/tools/build.sh)`);
    } else {
        const server = startServer(["--root", book]);
        try {
            const base = `http://${await server.address}`;
            const pages = ["/", "/19-http-server.html"];
            if (existsSync(path.join(book, "zh-CN", "index.html"))) pages.push("/zh-CN/19-http-server.html");
            for (const url of pages) {
                const bad = [];
                const onResponse = (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); };
                const onFailed = (r) => bad.push(`failed ${r.url()}: ${r.failure()?.errorText}`);
                page.on("response", onResponse);
                page.on("requestfailed", onFailed);
                const response = await page.goto(base + url, { waitUntil: "load" });
                await page.waitForLoadState("networkidle").catch(() => {});
                page.off("response", onResponse);
                page.off("requestfailed", onFailed);
                expect(`GET ${url} status`, response?.status(), 200);
                expect(`requests of ${url} that failed`, bad.join(", "), "");
                const heading = (await page.textContent("main h1").catch(() => null)) ?? "";
                if (url !== "/") expect(`${url}'s heading names chapter 19`, heading.startsWith("19"), true);
            }
        } catch (err) {
            failures.push(`the book: ${err.message}`);
        }
        await stopServer(server, "the book");
    }
}

await browser.close();
clearTimeout(deadline);
if (failures.length > 0) {
    for (const failure of failures) console.error(`error: ${failure}`);
    process.exit(1);
}
console.log(`web examples: chapter 19's pages work in Chromium${book === null ? "" : ", the book included"}`);
