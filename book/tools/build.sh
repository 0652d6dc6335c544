#!/usr/bin/env bash
# Builds both editions of the book, as they are published:
#   book/book/          the English edition (mdBook's built-in search)
#   book/book/zh-CN/    the Chinese edition (简体中文), translated from po/zh-CN.po by
#                       mdbook-gettext, searched with Pagefind (which segments Chinese)
# Needs: mdbook 0.5.4, mdbook-i18n-helpers 0.4.0 (mdbook-gettext), Node.js with `npm install` run in
# book/tools. `.ci/run` installs them; see CONTRIBUTING.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in mdbook mdbook-gettext node; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: cannot build the book: $tool is not installed (see CONTRIBUTING.md)" >&2
        exit 1
    fi
done
if [ ! -d book/tools/node_modules/pagefind ]; then
    echo "error: cannot build the search index: run \`npm install --prefix book/tools\` first" >&2
    exit 1
fi

mdbook build book
MDBOOK_BOOK__LANGUAGE=zh-CN \
MDBOOK_BOOK__TITLE="Socket Workbook 中文版" \
MDBOOK_OUTPUT__HTML__SEARCH__ENABLE=false \
    MDBOOK_OUTPUT__HTML__SITE_URL=/zh-CN/ \
    mdbook build book -d "$PWD/book/book/zh-CN"
node book/tools/search-index.mjs book/book/zh-CN
