// The workbook's additions to mdBook's pages (both editions):
// 1. a language picker that links to the same page in the other edition, and
// 2. in the Chinese edition, a Pagefind search (mdBook's built-in index cannot segment Chinese
//    words, rust-lang/mdBook#1081; Pagefind's extended build can).
//
// Layout of the published site: the English edition at the root, the Chinese edition under
// `zh-CN/`. mdBook defines `path_to_root` on every page: the way from this page to its
// edition's root.
(function () {
    "use strict";

    const CHINESE = "zh-CN";
    const lang = document.documentElement.lang;
    const isChinese = lang === CHINESE;
    // The root of this edition, and this page's path inside it.
    const root = new URL(typeof path_to_root === "string" && path_to_root !== "" ? path_to_root : "./", window.location.href);
    let page = window.location.href.slice(root.href.length);
    if (page === "" || page.startsWith("#") || page.startsWith("?")) {
        page = "index.html" + page;
    }
    const other = isChinese ? new URL("../" + page, root) : new URL(CHINESE + "/" + page, root);

    function languagePicker() {
        const buttons = document.querySelector("#mdbook-menu-bar .right-buttons");
        if (!buttons) {
            return;
        }
        const link = document.createElement("a");
        link.id = "workbook-language";
        link.href = other.href;
        link.hreflang = isChinese ? "en" : CHINESE;
        link.lang = isChinese ? "en" : CHINESE;
        link.textContent = isChinese ? "English" : "中文";
        link.title = isChinese ? "Read this page in English" : "阅读本页的中文版";
        link.setAttribute("aria-label", link.title);
        buttons.insertBefore(link, buttons.firstChild);
    }

    function chineseSearch() {
        const left = document.querySelector("#mdbook-menu-bar .left-buttons");
        if (!left) {
            return;
        }
        const toggle = document.createElement("button");
        toggle.id = "workbook-search-toggle";
        toggle.className = "icon-button";
        toggle.type = "button";
        toggle.title = "搜索（按 S 或 /）";
        toggle.setAttribute("aria-label", "搜索");
        toggle.setAttribute("aria-expanded", "false");
        toggle.innerHTML = '<svg viewBox="0 0 512 512" width="16" height="16" aria-hidden="true"><path fill="currentColor" d="M416 208c0 45.9-14.9 88.3-40 122.7L502.6 457.4c12.5 12.5 12.5 32.8 0 45.3s-32.8 12.5-45.3 0L330.7 376c-34.4 25.2-76.8 40-122.7 40C93.1 416 0 322.9 0 208S93.1 0 208 0S416 93.1 416 208zM208 352a144 144 0 1 0 0-288 144 144 0 1 0 0 288z"/></svg>';
        left.appendChild(toggle);

        const panel = document.createElement("div");
        panel.id = "workbook-search";
        panel.hidden = true;
        const bar = document.getElementById("mdbook-menu-bar");
        bar.parentNode.insertBefore(panel, bar.nextSibling);

        let loaded = null;
        function load() {
            if (loaded) {
                return loaded;
            }
            // Pagefind loads its index with fetch(), which browsers refuse for a page opened
            // from a file: say so, with the command that serves the book, rather than showing
            // "正在搜索……" for ever.
            if (window.location.protocol === "file:") {
                const note = document.createElement("p");
                note.id = "workbook-search-file";
                note.innerHTML = "从本地文件（<code>file://</code>）打开时无法搜索：浏览器不允许搜索加载它的索引。" +
                    "请通过 HTTP 阅读本书：在仓库根目录运行 <code>book/tools/serve.sh</code>，" +
                    "然后打开 <code>http://127.0.0.1:8000/zh-CN/</code>。";
                panel.appendChild(note);
                loaded = Promise.resolve();
                return loaded;
            }
            loaded = new Promise(function (resolve, reject) {
                const css = document.createElement("link");
                css.rel = "stylesheet";
                css.href = new URL("pagefind/pagefind-ui.css", root).href;
                document.head.appendChild(css);
                const script = document.createElement("script");
                script.src = new URL("pagefind/pagefind-ui.js", root).href;
                script.onload = function () {
                    // eslint-disable-next-line no-undef
                    new PagefindUI({
                        element: "#workbook-search",
                        baseUrl: root.pathname,
                        showSubResults: true,
                        showImages: false,
                        // Pagefind counts a Chinese character as a word: its default excerpt
                        // (30 words) is half a line of Chinese.
                        excerptLength: 80,
                        // A Chinese term alone (半关闭) is searched as a phrase: Pagefind splits
                        // it into words (半, 关闭) and would rank first the pages that say 关闭
                        // most often.
                        processTerm: function (term) {
                            return /^[\u3400-\u9fff\uf900-\ufaff]+$/.test(term.trim()) ? `"${term.trim()}"` : term;
                        },
                        translations: { placeholder: "搜索本书：粘包、三次握手、SO_REUSEADDR……" },
                    });
                    resolve();
                };
                script.onerror = reject;
                document.head.appendChild(script);
            });
            return loaded;
        }
        function open() {
            panel.hidden = false;
            toggle.setAttribute("aria-expanded", "true");
            load().then(function () {
                const input = panel.querySelector("input");
                if (input) {
                    input.focus();
                }
            });
        }
        function close() {
            panel.hidden = true;
            toggle.setAttribute("aria-expanded", "false");
        }
        toggle.addEventListener("click", function () {
            if (panel.hidden) {
                open();
            } else {
                close();
            }
        });
        document.addEventListener("keydown", function (event) {
            const typing = event.target && /^(INPUT|TEXTAREA)$/.test(event.target.tagName);
            // "s" or "/" opens the search, as in the English edition (mdBook's keys).
            const key = event.key === "/" || event.key === "s" || event.key === "S";
            const modified = event.altKey || event.ctrlKey || event.metaKey;
            if (key && !modified && !typing && panel.hidden) {
                event.preventDefault();
                open();
            } else if (event.key === "Escape" && !panel.hidden) {
                close();
            }
        });
    }

    // Code included from the middle of a function keeps the function's indentation; take off
    // what every line of the block shares, so the code starts at the left edge and fits the
    // column. (mdBook has highlighted it already: strip the spaces from the text nodes.)
    function dedentCode() {
        for (const code of document.querySelectorAll("main pre > code")) {
            const lines = code.textContent.split("\n").filter((line) => line.trim() !== "");
            const indent = Math.min(...lines.map((line) => line.match(/^ */)[0].length));
            if (!Number.isFinite(indent) || indent === 0) {
                continue;
            }
            const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
            let toStrip = indent; // spaces still to remove at the start of the current line
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                let out = "";
                for (const ch of node.data) {
                    if (ch === "\n") {
                        toStrip = indent;
                        out += ch;
                    } else if (toStrip > 0 && ch === " ") {
                        toStrip -= 1;
                    } else {
                        toStrip = 0;
                        out += ch;
                    }
                }
                node.data = out;
            }
        }
    }

    // Code in a table cell may break only between its parts: after `_`, `.`, `/`, `,`, `(`, `::`
    // or a space, or between the words of a camelCase name; never inside one (an option such as `--queue` is not split between its hyphens on a
    // phone), so that the table fits its column.
    function tableCode() {
        for (const code of document.querySelectorAll("main table code")) {
            const pieces = code.textContent.split(/(?<=[_./,(\s]|::)|(?<=[a-z])(?=[A-Z])/);
            code.textContent = "";
            pieces.forEach((piece, i) => {
                if (i > 0) {
                    code.appendChild(document.createElement("wbr"));
                }
                const span = document.createElement("span");
                span.className = "nobreak";
                span.textContent = piece;
                code.appendChild(span);
            });
        }
    }

    // A name written as plain text in a table cell (an exercise such as 01_byte_counter) may
    // break after its underscores, for the same reason.
    function tableNames() {
        for (const cell of document.querySelectorAll("main td, main th")) {
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            const nodes = [];
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                if (!node.parentElement.closest("code") && /\w_\w/.test(node.data)) {
                    nodes.push(node);
                }
            }
            for (const node of nodes) {
                const parts = node.data.split(/(?<=_)/);
                const fragment = document.createDocumentFragment();
                parts.forEach((part, i) => {
                    if (i > 0) {
                        fragment.appendChild(document.createElement("wbr"));
                    }
                    fragment.appendChild(document.createTextNode(part));
                });
                node.replaceWith(fragment);
            }
        }
    }

    // mdBook writes its menu's tooltips and labels in English whatever the book's language; the
    // Chinese edition gets them in Chinese.
    const MENU_ZH = {
        "Toggle Table of Contents": "显示或隐藏目录",
        "Table of contents": "目录",
        "Change theme": "更换主题",
        "Themes": "主题",
        "Print this book": "打印本书",
        "Git repository": "Git 仓库",
        "Suggest an edit": "建议修改本页",
        "Previous chapter": "上一章",
        "Next chapter": "下一章",
        "Page navigation": "翻页",
    };
    const THEMES_ZH = { Auto: "跟随系统", Light: "浅色" };
    function chineseMenu() {
        for (const attribute of ["title", "aria-label"]) {
            for (const element of document.querySelectorAll(`[${attribute}]`)) {
                const chinese = MENU_ZH[element.getAttribute(attribute)];
                if (chinese) {
                    element.setAttribute(attribute, chinese);
                }
            }
        }
        for (const button of document.querySelectorAll("#mdbook-theme-list button")) {
            const chinese = THEMES_ZH[button.textContent.trim()];
            if (chinese) {
                button.textContent = chinese;
            }
        }
    }

    dedentCode();
    tableCode();
    tableNames();
    languagePicker();
    if (isChinese) {
        chineseMenu();
        chineseSearch();
    }
})();
