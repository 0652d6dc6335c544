// Builds the Pagefind search index of one edition of the book (used for the Chinese edition,
// whose words mdBook's built-in search cannot find: it splits text on spaces, and Chinese has
// none). Pagefind's extended binary segments Chinese and Japanese; the npm package prefers it.
//
//   node book/tools/search-index.mjs book/book/zh-CN
//
// Indexes each chapter's <main> only (not the menu, not the sidebar), and skips the pages that
// repeat or list others: index.html (mdBook's copy of the first chapter, introduction.html: a
// search would list 简介 twice), print.html (every chapter at once), toc.html, 404.html.
import * as pagefind from "pagefind";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

const site = process.argv[2];
if (!site) {
    console.error("usage: node search-index.mjs SITE_DIR");
    process.exit(2);
}
const SKIP = new Set(["index.html", "print.html", "toc.html", "404.html"]);

const { index, errors } = await pagefind.createIndex({ rootSelector: "main" });
if (errors.length > 0 || !index) {
    console.error(`error: cannot start Pagefind: ${errors.join("; ")}`);
    process.exit(1);
}
let pages = 0;
for (const entry of await readdir(site, { withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".html") || SKIP.has(entry.name)) {
        continue;
    }
    const file = path.join(site, entry.name);
    const added = await index.addHTMLFile({ url: entry.name, content: await readFile(file, "utf8") });
    if (added.errors.length > 0) {
        console.error(`error: cannot index ${file}: ${added.errors.join("; ")}`);
        process.exit(1);
    }
    pages += 1;
}
const written = await index.writeFiles({ outputPath: path.join(site, "pagefind") });
if (written.errors.length > 0) {
    console.error(`error: cannot write the index: ${written.errors.join("; ")}`);
    process.exit(1);
}
console.log(`search index: ${pages} pages of ${site}`);
await pagefind.close();
