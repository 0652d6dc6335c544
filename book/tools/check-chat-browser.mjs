// Chapter 20 in a real browser: two pages of the chat room (headless Chromium) and a raw TCP
// member (as `nc`) chat with each other through examples/20_websocket_chat.rs; markup sent by
// one member shows as text in the pages, never as an element; the pages stay in the room over
// several heartbeats (Chromium answers the server's pings by itself); and Ctrl-C closes both
// pages' WebSockets with code 1001. Bounded in time; every failure says what was expected and
// what was seen, and the check exits 1.
//
//   node book/tools/check-chat-browser.mjs [PATH-TO-BUILT-EXAMPLE]
//
// Without a path it runs `cargo run --quiet --example 20_websocket_chat`, as a reader does.
// Chromium: $CHROMIUM, or /usr/bin/chromium (Debian's package `chromium`).
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { createInterface } from "node:readline";

const LIMIT = 10000; // ms for any one expected line
const deadline = setTimeout(() => {
    console.error("error: the chat browser check took over 3 minutes: stopped");
    process.exit(1);
}, 3 * 60 * 1000);

const failures = [];
const fail = (what) => {
    failures.push(what);
    console.error(`error: ${what}`);
};

// 1. The server, on free ports, with a 1 s heartbeat so that the pages live through several.
const args = ["--addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0", "--ping-interval", "1"];
const server = process.argv[2]
    ? spawn(process.argv[2], args)
    : spawn("cargo", ["run", "--quiet", "--example", "20_websocket_chat", "--", ...args]);
const serverLines = [];
const stdoutWaiters = [];
createInterface({ input: server.stdout }).on("line", (line) => {
    serverLines.push(line);
    for (const w of [...stdoutWaiters]) w();
});
server.stderr.on("data", (d) => process.stderr.write(`server stderr: ${d}`));
const exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));

function serverLine(prefix, ms = 120000) {
    return new Promise((resolve, reject) => {
        const check = () => {
            const line = serverLines.find((l) => l.startsWith(prefix));
            if (line === undefined) return false;
            stdoutWaiters.splice(stdoutWaiters.indexOf(check), 1);
            clearTimeout(timer);
            resolve(line);
            return true;
        };
        const timer = setTimeout(() => {
            stdoutWaiters.splice(stdoutWaiters.indexOf(check), 1);
            reject(new Error(`the server printed no line starting "${prefix}"; it printed: ${JSON.stringify(serverLines)}`));
        }, ms);
        stdoutWaiters.push(check);
        check();
    });
}

// 2. A raw TCP member, speaking chapter 14's lines as `nc` does.
class LineMember {
    constructor(port) {
        this.lines = [];
        this.waiters = [];
        this.ended = false;
        this.socket = createConnection({ host: "127.0.0.1", port });
        this.socket.setEncoding("utf8");
        let partial = "";
        this.socket.on("data", (chunk) => {
            partial += chunk;
            let at;
            while ((at = partial.indexOf("\n")) >= 0) {
                this.lines.push(partial.slice(0, at));
                partial = partial.slice(at + 1);
            }
            this.wake();
        });
        this.socket.on("close", () => {
            this.ended = true;
            this.wake();
        });
        this.socket.on("error", () => {});
    }
    wake() {
        for (const w of [...this.waiters]) w();
    }
    say(line) {
        this.socket.write(line + "\n");
    }
    // The next line, which must be `want`.
    async expect(want) {
        const got = await new Promise((resolve) => {
            const check = () => {
                if (this.lines.length > 0 || this.ended) {
                    this.waiters.splice(this.waiters.indexOf(check), 1);
                    clearTimeout(timer);
                    resolve(this.lines.length > 0 ? this.lines.shift() : "(end of stream)");
                }
            };
            const timer = setTimeout(() => {
                this.waiters.splice(this.waiters.indexOf(check), 1);
                resolve("(nothing within 10 s)");
            }, LIMIT);
            this.waiters.push(check);
            check();
        });
        if (got !== want) fail(`nc member: expected the line ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
}

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
});

// A page's chat log, as the reader sees it.
async function expectShown(page, who, text) {
    try {
        await page.waitForFunction(
            (t) => [...document.querySelectorAll("#log li")].some((li) => li.textContent === t),
            text, { timeout: LIMIT, polling: 50 });
    } catch {
        const shown = await page.$$eval("#log li", (lis) => lis.map((li) => li.textContent));
        fail(`${who}'s page: expected a line ${JSON.stringify(text)}; it shows ${JSON.stringify(shown)}`);
    }
}

async function expectStatus(page, who, text) {
    try {
        await page.waitForFunction((t) => document.getElementById("status").textContent === t,
            text, { timeout: LIMIT, polling: 50 });
    } catch {
        const shown = await page.textContent("#status");
        fail(`${who}'s page: expected the status ${JSON.stringify(text)}, it shows ${JSON.stringify(shown)}`);
    }
}

async function type(page, text) {
    await page.fill("#line", text);
    await page.press("#line", "Enter");
}

let context;
try {
    const web = (await serverLine("listening on ")).slice("listening on ".length);
    const ncPort = Number((await serverLine("nc members: nc ")).split(" ").pop());
    context = await browser.newContext();

    // 3. Two pages join, then the TCP member.
    const pages = {};
    for (const nick of ["ada", "bob"]) {
        const page = await context.newPage();
        page.on("pageerror", (err) => fail(`${nick}'s page: JavaScript error: ${err.message}`));
        page.on("console", (msg) => {
            if (msg.type() === "error") fail(`${nick}'s page: console error: ${msg.text()}`);
        });
        await page.goto(`http://${web}/`, { waitUntil: "load", timeout: LIMIT });
        await expectStatus(page, nick, "connected");
        await expectShown(page, nick, "* welcome! your nickname?");
        await type(page, nick);
        await expectShown(page, nick, nick === "ada" ? "* hello ada; here: nobody yet" : "* hello bob; here: ada");
        pages[nick] = page;
    }
    await expectShown(pages.ada, "ada", "* bob joined");
    const carol = new LineMember(ncPort);
    await carol.expect("* welcome! your nickname?");
    carol.say("carol");
    await carol.expect("* hello carol; here: ada, bob");
    await expectShown(pages.ada, "ada", "* carol joined");
    await expectShown(pages.bob, "bob", "* carol joined");

    // 4. Everyone hears everyone.
    await type(pages.ada, "hello from ada's tab");
    await expectShown(pages.bob, "bob", "ada: hello from ada's tab");
    await carol.expect("ada: hello from ada's tab");
    await type(pages.bob, "and from bob's, ünïcode too");
    await expectShown(pages.ada, "ada", "bob: and from bob's, ünïcode too");
    await carol.expect("bob: and from bob's, ünïcode too");
    carol.say("hi tabs, this is nc");
    await expectShown(pages.ada, "ada", "carol: hi tabs, this is nc");
    await expectShown(pages.bob, "bob", "carol: hi tabs, this is nc");

    // 5. Markup is text: shown as typed, never an element, never run.
    const attack = `<img src=x onerror="document.title='pwned'"><b>bold</b>`;
    carol.say(attack);
    for (const nick of ["ada", "bob"]) {
        await expectShown(pages[nick], nick, `carol: ${attack}`);
        const made = await pages[nick].$$eval("#log img, #log b", (els) => els.length);
        if (made !== 0) fail(`${nick}'s page: the markup made ${made} element(s)`);
        if ((await pages[nick].title()) === "pwned") fail(`${nick}'s page: the markup ran`);
    }

    // 6. Heartbeats: over four ping intervals of quiet, the browser answers every ping by itself
    //    and nobody is dropped.
    await new Promise((resolve) => setTimeout(resolve, 4500));
    await type(pages.bob, "still here after the pings");
    await expectShown(pages.ada, "ada", "bob: still here after the pings");
    await carol.expect("bob: still here after the pings");
    const dropped = serverLines.filter((l) => l.startsWith("dropped:"));
    if (dropped.length > 0) fail(`the server dropped someone: ${JSON.stringify(dropped)}`);

    // 7. Ctrl-C: both pages see the close with 1001, the TCP member the notice and the end.
    server.kill("SIGINT");
    for (const nick of ["ada", "bob"]) {
        await expectShown(pages[nick], nick, "* server shutting down");
        await expectStatus(pages[nick], nick, "closed (1001: server shutting down)");
    }
    await carol.expect("* server shutting down");
    await carol.expect("(end of stream)");
    const { code, signal } = await Promise.race([exited,
        new Promise((resolve) => setTimeout(() => resolve({ code: "still running after 10 s" }), LIMIT))]);
    if (code !== 0) fail(`the server's exit after Ctrl-C: expected 0, got ${code ?? signal}`);
} catch (err) {
    fail(err.message.split("\n")[0]);
} finally {
    await browser.close();
    if (server.exitCode === null) server.kill("SIGKILL");
    clearTimeout(deadline);
}

if (failures.length > 0) {
    console.error(`the server printed:\n  ${serverLines.join("\n  ")}`);
    console.error(`chat browser check: ${failures.length} problem(s)`);
    process.exit(1);
}
console.log("chat browser check: two pages and an nc member chatted, markup stayed text, " +
    "heartbeats kept the pages in, Ctrl-C closed them with 1001: all good");
