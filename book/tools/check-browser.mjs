// Checks the built book, both editions, in headless Chromium, the way a reader's browser sees it:
// every page loads with no JavaScript error, every local link and #fragment resolves, every
// image loads, the language picker leads to the same page in the other edition, and search finds
// the right chapter for English and Chinese terms. The layout is checked at two widths, a laptop
// (1280 px) and a phone (400 px): no diagram wraps (a wrapped line breaks the drawing), no table
// is wider than its column, no page scrolls sideways, and at 1280 px no code block needs
// sideways scrolling. Bounded in time; each failure names its page.
//
// Before it looks at the book, the check proves it can see these layout failures: it breaks a
// page of the book on purpose (a diagram wider than the column, diagrams allowed to wrap, a table
// wider than the column) and fails if any of them goes unreported. `--self-test` runs only that.
//
//   node book/tools/check-browser.mjs book/book [--screenshots DIR] [--self-test] [--only TEXT]
//
// --screenshots DIR saves, at 1280 and at 400 px, every page with a diagram or a table (both
// editions), and the first page and chapter 13 as print PDF, for a look by eye.
//
// Chromium: $CHROMIUM, or /usr/bin/chromium (Debian's package `chromium`).
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFile, readdir, stat, mkdir } from "node:fs/promises";
import path from "node:path";

const site = path.resolve(process.argv[2] ?? "book/book");
const shotsAt = process.argv.indexOf("--screenshots");
const shots = shotsAt > 0 ? path.resolve(process.argv[shotsAt + 1]) : null;
const selfTestOnly = process.argv.includes("--self-test");
// --only TEXT: check only the pages whose path contains TEXT, and skip the searches (while
// fixing); --only search: only the searches.
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : null;
// The widths a reader's screen has: a laptop, and a phone (its height as a phone's).
const WIDTHS = [{ width: 1280, height: 900 }, { width: 400, height: 850 }];
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
    { edition: "zh-CN/", term: "半关闭", page: "02-echo-client.html" },
];
const deadline = setTimeout(() => {
    console.error("error: the browser check took over 10 minutes: stopped");
    process.exit(1);
}, 10 * 60 * 1000);

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
// A phone loads a page at its own width (mdBook then starts with the sidebar closed).
const phone = await browser.newContext({ viewport: WIDTHS[1], isMobile: true, hasTouch: true });

// What a reader would see broken in the layout of the page as it is now, in the browser:
//  - a diagram (```text,diagram block) that wraps: more lines on screen than in the drawing;
//  - a block drawn with box-drawing characters that is not marked as a diagram (it would wrap);
//  - a code block that needs sideways scrolling (reported by the caller at 1280 px only: on a
//    phone a diagram scrolls sideways by design);
//  - a table wider than its column (cut off, or scrolled without the reader noticing);
//  - a page that scrolls sideways as a whole.
function layoutProbe() {
    const BOX = /[\u2500-\u257F\u25B2\u25B6\u25BC\u25C0]/;
    const firstLine = (el) => el.textContent.trim().split("\n")[0].slice(0, 50);
    // Lines on screen: the distinct tops of the boxes of the text, line by line.
    function screenLines(code) {
        const tops = new Set();
        const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const range = document.createRange();
            range.selectNodeContents(node);
            for (const rect of range.getClientRects()) {
                if (rect.width > 0) tops.add(Math.round(rect.top));
            }
        }
        return tops.size;
    }
    const out = { wrappedDiagrams: [], unmarked: [], wideCode: [], wideTables: [], pageWidth: 0 };
    for (const code of document.querySelectorAll("main pre > code")) {
        const lines = code.textContent.split("\n").filter((line) => line.trim() !== "").length;
        const isDiagram = code.classList.contains("diagram");
        if (isDiagram && screenLines(code) > lines) {
            out.wrappedDiagrams.push(`${firstLine(code)}… (${lines} lines shown on ${screenLines(code)})`);
        }
        if (!isDiagram && code.classList.contains("language-text") && BOX.test(code.textContent)) {
            out.unmarked.push(firstLine(code));
        }
        // mdBook makes the <code> inside <pre> the element that scrolls.
        if (code.scrollWidth > code.clientWidth + 1) {
            out.wideCode.push(code.textContent.split("\n").reduce((a, b) => (b.length > a.length ? b : a), "").slice(0, 60));
        }
    }
    const main = document.querySelector("main");
    const column = main ? main.getBoundingClientRect() : null;
    for (const table of document.querySelectorAll("main table")) {
        const box = table.getBoundingClientRect();
        const cut = table.scrollWidth > table.clientWidth + 1;
        const beyond = column && (box.right > column.right + 1 || box.left < column.left - 1);
        if (cut || beyond) {
            const head = [...table.querySelectorAll("th")].map((th) => th.textContent.trim()).join(" | ");
            out.wideTables.push(`${head.slice(0, 60)} (${Math.max(table.scrollWidth, Math.round(box.width))} px in a ${column ? Math.round(column.width) : "?"} px column)`);
        }
    }
    out.pageWidth = document.documentElement.scrollWidth - window.innerWidth;
    const title = document.querySelector(".menu-title");
    out.titleCut = title && title.scrollWidth > title.clientWidth + 1 ? title.textContent.trim() : null;
    return out;
}

// Reports what `layoutProbe` found on the page `rel` at `width` px.
function layoutFailures(rel, width, found) {
    const problems = [];
    for (const d of found.wrappedDiagrams) problems.push(`a diagram wraps at ${width} px: "${d}"`);
    for (const d of found.unmarked) problems.push(`a drawing in a \`\`\`text block not marked \`diagram\` (it may wrap): "${d}…"`);
    if (width >= 1280) {
        for (const line of found.wideCode) problems.push(`code needs sideways scrolling at ${width} px: "${line}…"`);
    }
    for (const t of found.wideTables) problems.push(`a table is wider than its column at ${width} px: ${t}`);
    if (found.pageWidth > 1) problems.push(`the page scrolls sideways at ${width} px (${found.pageWidth} px too wide)`);
    if (found.titleCut) problems.push(`the menu bar cuts the title "${found.titleCut}" at ${width} px`);
    return problems.map((what) => `${rel}: ${what}`);
}

// The check of the check: a page of the book, broken on purpose in each way a reader would see
// as broken, must fail the layout check at each width. Returns what went unreported.
async function selfTest() {
    const blind = [];
    const name = "introduction.html";
    // Each breakage adds its own block to the page (styled by the book's own CSS), so that the
    // self-test does not depend on what the page holds.
    const addBlock = (classes, text) => {
        const pre = document.createElement("pre");
        const code = document.createElement("code");
        code.className = classes;
        code.textContent = text;
        pre.appendChild(code);
        document.querySelector("main").appendChild(pre);
    };
    const breakages = [
        {
            what: "a diagram wider than the column",
            widths: [1280],
            // (If diagrams wrap, it wraps instead: reported too.)
            expect: /code needs sideways scrolling|a diagram wraps/,
            script: `(${addBlock})("language-text diagram", "client ──▶ server\\n" + "──".repeat(60) + "▶ far too wide")`,
        },
        {
            what: "diagrams allowed to wrap (white-space: pre-wrap)",
            widths: [1280, 400],
            expect: /a diagram wraps/,
            script: `(${addBlock})("language-text diagram", "client ──▶ server\\n" + "──".repeat(60) + "▶ far too wide");
                const style = document.createElement("style");
                style.textContent = ".content pre > code.diagram { white-space: pre-wrap !important; }";
                document.head.appendChild(style);`,
        },
        {
            what: "a drawing not marked as a diagram",
            widths: [1280],
            expect: /not marked `diagram`/,
            script: `(${addBlock})("language-text", "┌────┐\\n│ box │\\n└────┘")`,
        },
        {
            what: "a table wider than the column",
            widths: [1280, 400],
            expect: /a table is wider than its column/,
            script: () => {
                // Too many columns of figures that cannot break: wider than any column.
                const table = document.createElement("table");
                const row = (cell) => "<tr>" + Array.from({ length: 24 }, (_, i) => cell(i)).join("") + "</tr>";
                table.innerHTML = "<thead>" + row((i) => `<th>load ${i}</th>`) + "</thead><tbody>" +
                    row(() => "<td>1,234,567</td>") + "</tbody>";
                document.querySelector("main").appendChild(table);
            },
        },
    ];
    for (const breakage of breakages) {
        for (const width of breakage.widths) {
            const page = await (width === 1280 ? context : phone).newPage();
            await page.goto(base + name, { waitUntil: "load", timeout: 15000 });
            await page.evaluate(breakage.script);
            const after = layoutFailures(name, width, await page.evaluate(layoutProbe));
            await page.close();
            if (!after.some((problem) => breakage.expect.test(problem))) {
                blind.push(`the layout check does not see ${breakage.what} at ${width} px`);
            }
        }
    }
    return blind;
}

const blind = await selfTest();
for (const b of blind) fail("self-test", b);
if (selfTestOnly) {
    await browser.close();
    server.close();
    clearTimeout(deadline);
    if (failures.length > 0) {
        for (const f of failures) console.error(`error: ${f}`);
        process.exit(1);
    }
    console.log("browser check, self-test: a diagram wider than the column, wrapping diagrams, an unmarked drawing and a table wider than the column were each reported, at 1280 and 400 px");
    process.exit(0);
}

let checked = 0;
for (const edition of EDITIONS) {
    const dir = path.join(site, edition);
    const pages = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".html")).sort();
    if (pages.length === 0) fail(edition || "/", "no pages built");
    for (const name of pages) {
        const rel = edition + name;
        if (only !== null && !rel.includes(only)) continue;
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
            picker: document.getElementById("workbook-language")?.href ?? null,
        }));
        for (const e of errors) fail(rel, e);
        for (const img of found.images) if (!img.ok) fail(rel, `image does not load: ${img.src}`);
        // The layout at both widths (print.html repeats every chapter: checked there).
        let hasFigure = false;
        if (name !== "print.html" && name !== "toc.html") {
            const wide = await page.evaluate(layoutProbe);
            failures.push(...layoutFailures(rel, 1280, wide));
            const small = await phone.newPage();
            await small.goto(base + rel, { waitUntil: "load", timeout: 15000 });
            failures.push(...layoutFailures(rel, 400, await small.evaluate(layoutProbe)));
            hasFigure = await small.evaluate(() => document.querySelector("main table, main pre > code.diagram") !== null);
            if (shots && hasFigure) {
                await mkdir(shots, { recursive: true });
                const stem = (edition ? "zh-CN-" : "") + name.replace(".html", "");
                await page.screenshot({ path: path.join(shots, `${stem}-1280.png`), fullPage: true });
                await small.screenshot({ path: path.join(shots, `${stem}-400.png`), fullPage: true });
            }
            await small.close();
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
            if (!hasFigure) {
                await page.screenshot({ path: path.join(shots, `${stem}-1280.png`), fullPage: false });
            }
            await page.emulateMedia({ media: "print" });
            await page.pdf({ path: path.join(shots, `${stem}-print.pdf`) });
        }
        await page.close();
        checked += 1;
    }
}

// Search, as a reader types it.
const searches = only === null || only === "search" ? SEARCHES : [];
for (const { edition, term, page: want } of searches) {
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
            // "s" opens it, as in the English edition.
            await page.keyboard.press("s");
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

// Opened from a file, the Chinese search cannot load its index: it says so, with the command
// that serves the book, instead of searching for ever.
if (searches.length > 0) {
    const page = await context.newPage();
    await page.goto("file://" + path.join(site, "zh-CN", "index.html"), { waitUntil: "load" });
    await page.keyboard.press("/");
    const note = await page.waitForSelector("#workbook-search-file", { timeout: 5000 }).catch(() => null);
    if (!note || !(await note.textContent()).includes("book/tools/serve.sh")) {
        fail("zh-CN/index.html", "opened from file://, the search does not say that it needs book/tools/serve.sh");
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
console.log(`browser check: ${checked} pages of both editions at 1280 and 400 px, ${searches.length} searches, all good`);
