// Checks the built book, both editions, in headless Chromium, the way a reader's browser sees it:
// every page loads with no JavaScript error, every local link and #fragment resolves, every
// image loads, no code block needs sideways scrolling at 1280 px, the language picker leads to
// the same page in the other edition, and search finds the right chapter for English and
// Chinese terms. Bounded in time; each failure names its page.
//
//   node book/tools/check-browser.mjs book/book [--screenshots DIR]
//
// Chromium: $CHROMIUM, or /usr/bin/chromium (Debian's package `chromium`).
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFile, readdir, stat, mkdir } from "node:fs/promises";
import path from "node:path";

const site = path.resolve(process.argv[2] ?? "book/book");
const shotsAt = process.argv.indexOf("--screenshots");
const shots = shotsAt > 0 ? path.resolve(process.argv[shotsAt + 1]) : null;
const EDITIONS = ["", "zh-CN/"];
// Terms a reader searches for, and the chapter that must be among the first five pages found.
const SEARCHES = [
    { edition: "", term: "SO_REUSEADDR", page: "06-reuse-address.html" },
    { edition: "", term: "sticky packets", page: "11-sticky-packets.html" },
    { edition: "", term: "heartbeat", page: "16-heartbeat.html" },
    { edition: "zh-CN/", term: "粘包", page: "11-sticky-packets.html" },
    { edition: "zh-CN/", term: "三次握手", page: "introduction.html" },
    { edition: "zh-CN/", term: "地址复用", page: "06-reuse-address.html" },
    { edition: "zh-CN/", term: "SO_REUSEADDR", page: "06-reuse-address.html" },
];
const deadline = setTimeout(() => {
    console.error("error: the browser check took over 5 minutes: stopped");
    process.exit(1);
}, 5 * 60 * 1000);

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css",
    ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json", ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8", ".wasm": "application/wasm" };

// A static file server on loopback, as any web host serves the book.
const server = createServer(async (req, res) => {
    let file = path.join(site, decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (!file.startsWith(site)) {
        res.writeHead(403).end();
        return;
    }
    try {
        if ((await stat(file)).isDirectory()) file = path.join(file, "index.html");
        const body = await readFile(file);
        res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
        res.end(body);
    } catch {
        res.writeHead(404).end();
    }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}/`;

const failures = [];
const fail = (page, what) => failures.push(`${page}: ${what}`);

// Every id in a page, for #fragment checks (read from the file, as the server sends it).
const idCache = new Map();
async function idsOf(file) {
    if (!idCache.has(file)) {
        const text = await readFile(file, "utf8").catch(() => null);
        const ids = new Set();
        if (text !== null) {
            for (const m of text.matchAll(/\s(?:id|name)="([^"]+)"/g)) ids.add(m[1]);
        }
        idCache.set(file, text === null ? null : ids);
    }
    return idCache.get(file);
}

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });

let checked = 0;
for (const edition of EDITIONS) {
    const dir = path.join(site, edition);
    const pages = (await readdir(dir)).filter((f) => f.endsWith(".html")).sort();
    if (pages.length === 0) fail(edition || "/", "no pages built");
    for (const name of pages) {
        const rel = edition + name;
        const page = await context.newPage();
        const errors = [];
        page.on("pageerror", (err) => errors.push(`JavaScript error: ${err.message}`));
        page.on("console", (msg) => {
            if (msg.type() === "error" && own(msg.location().url ?? "")) {
                errors.push(`console error: ${msg.text()}`);
            }
        });
        // (The browser asks for /favicon.ico by itself on pages that name none, such as toc.html.)
        const own = (url) => !url.endsWith("/favicon.ico");
        page.on("requestfailed", (req) => {
            if (own(req.url())) errors.push(`request failed: ${req.url()}`);
        });
        page.on("response", (res) => {
            if (res.status() >= 400 && own(res.url())) errors.push(`HTTP ${res.status()} for ${res.url()}`);
        });
        await page.goto(base + rel, { waitUntil: "load", timeout: 15000 });
        const found = await page.evaluate(() => ({
            links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
            images: [...document.querySelectorAll("img")].map((i) => ({ src: i.src, ok: i.complete && i.naturalWidth > 0 })),
            // mdBook makes the <code> inside <pre> the element that scrolls.
            wideCode: [...document.querySelectorAll("main pre > code")]
                .filter((code) => code.scrollWidth > code.clientWidth + 1)
                .map((code) => code.textContent.split("\n").reduce((a, b) => (b.length > a.length ? b : a), "").slice(0, 60)),
            picker: document.getElementById("workbook-language")?.href ?? null,
        }));
        for (const e of errors) fail(rel, e);
        for (const img of found.images) if (!img.ok) fail(rel, `image does not load: ${img.src}`);
        if (name !== "print.html") {
            for (const line of found.wideCode) fail(rel, `code needs sideways scrolling at 1280 px: "${line}…"`);
        }
        // 404.html is served for a missing URL anywhere, so its links are relative to the site
        // root (mdBook's `site-url`), not to where it lies: its fragments are not checked.
        for (const href of name === "404.html" ? [] : found.links) {
            if (!href.startsWith(base)) continue;
            const url = new URL(href);
            let file = path.join(site, decodeURIComponent(url.pathname));
            if (url.pathname.endsWith("/")) file = path.join(file, "index.html");
            const ids = await idsOf(file);
            if (ids === null) {
                fail(rel, `broken link: ${href.slice(base.length)}`);
            } else if (url.hash.length > 1 && !ids.has(decodeURIComponent(url.hash.slice(1)))) {
                fail(rel, `link to a missing #fragment: ${href.slice(base.length)}`);
            }
        }
        // The language picker leads to the same page in the other edition.
        // (toc.html is the sidebar for browsers without JavaScript: no menu bar, no picker.)
        const expected = base + (edition === "" ? "zh-CN/" + name : name);
        if (name !== "toc.html" && found.picker !== expected) fail(rel, `language picker goes to ${found.picker}, not ${expected}`);
        if (shots && (name === "index.html" || name === "13-load-generator.html")) {
            await mkdir(shots, { recursive: true });
            const stem = (edition ? "zh-CN-" : "") + name.replace(".html", "");
            await page.screenshot({ path: path.join(shots, `${stem}-1280.png`), fullPage: false });
            // A phone loads the page at its own width (mdBook then starts with the sidebar
            // closed): a new page, not a resized one.
            const phone = await context.newPage({ viewport: { width: 400, height: 800 } });
            await phone.setViewportSize({ width: 400, height: 800 });
            await phone.goto(base + rel, { waitUntil: "load" });
            await phone.screenshot({ path: path.join(shots, `${stem}-400.png`), fullPage: true });
            await phone.close();
            await page.emulateMedia({ media: "print" });
            await page.pdf({ path: path.join(shots, `${stem}-print.pdf`) });
        }
        await page.close();
        checked += 1;
    }
}

// Search, as a reader types it.
for (const { edition, term, page: want } of SEARCHES) {
    const page = await context.newPage();
    await page.goto(base + edition + "index.html", { waitUntil: "load" });
    let hrefs = [];
    try {
        if (edition === "") {
            await page.click("#mdbook-search-toggle");
            // mdBook searches on key presses (not on a pasted value), and loads its index when
            // the search bar opens: type the term key by key, again until results come.
            for (let attempt = 0; ; attempt++) {
                await page.fill("#mdbook-searchbar", "");
                await page.locator("#mdbook-searchbar").pressSequentially(term, { delay: 20 });
                try {
                    await page.waitForSelector("#mdbook-searchresults li a", { timeout: 2000 });
                    break;
                } catch (err) {
                    if (attempt === 4) throw err;
                }
            }
            hrefs = await page.$$eval("#mdbook-searchresults li a", (as) => as.slice(0, 5).map((a) => a.href));
        } else {
            await page.click("#workbook-search-toggle");
            await page.waitForSelector(".pagefind-ui__search-input", { timeout: 10000 });
            await page.fill(".pagefind-ui__search-input", term);
            // A result is a page: its first link is the page's, the others its sections'.
            // Pagefind shows results as their fragments load: wait until the list of pages
            // has stopped changing.
            const pages = "li.pagefind-ui__result";
            await page.waitForSelector(pages + " .pagefind-ui__result-link", { timeout: 10000 });
            let seen = "";
            for (let polls = 0; polls < 40; polls++) {
                hrefs = await page.$$eval(pages, (lis) => lis.slice(0, 5)
                    .map((li) => li.querySelector(".pagefind-ui__result-link")?.href)
                    .filter((href) => href));
                if (hrefs.join() === seen) break;
                seen = hrefs.join();
                await page.waitForTimeout(250);
            }
        }
    } catch (err) {
        fail(edition + "index.html", `search for "${term}" returned nothing (${err.message.split("\n")[0]})`);
    }
    if (hrefs.length > 0 && !hrefs.some((h) => new URL(h).pathname.endsWith("/" + edition + want))) {
        fail(edition + "index.html", `search for "${term}" did not find ${want} in its first five pages: ${hrefs.join(", ")}`);
    }
    await page.close();
}

await browser.close();
server.close();
clearTimeout(deadline);
if (failures.length > 0) {
    for (const f of failures) console.error(`error: ${f}`);
    console.error(`browser check: ${failures.length} problem(s) in ${checked} pages`);
    process.exit(1);
}
console.log(`browser check: ${checked} pages of both editions, ${SEARCHES.length} searches, all good`);
