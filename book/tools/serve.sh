#!/usr/bin/env bash
# Builds both editions of the book and serves them over HTTP on loopback, the way to read them
# locally:
#
#   book/tools/serve.sh [PORT]        (default 8000)
#
# then open http://127.0.0.1:8000/ (English) or http://127.0.0.1:8000/zh-CN/ (中文). Rebuild
# (run it again) after a change. Why not `mdbook serve book`: it builds the English edition only
# and empties book/book/ first, so the 中文 link of every page leads to a 404; and the Chinese
# search loads its index with fetch(), which browsers refuse for file:// pages.
# Needs what build.sh needs, and python3 (its http.server module).
set -euo pipefail
cd "$(dirname "$0")/../.."

port=${1:-8000}
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: cannot serve the book: python3 is not installed (Debian: apt-get install python3)" >&2
    exit 1
fi
book/tools/build.sh
echo "serving both editions on http://127.0.0.1:${port}/ (English) and" \
    "http://127.0.0.1:${port}/zh-CN/ (中文); Ctrl-C stops"
exec python3 -m http.server --bind 127.0.0.1 --directory book/book "$port"
