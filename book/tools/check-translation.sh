#!/usr/bin/env bash
# Fails when the Chinese edition has fallen behind the English text: a message of the book that
# po/zh-CN.po does not translate, or translates only "fuzzily" (its English changed since).
# Needs mdbook, mdbook-i18n-helpers (mdbook-xgettext) and GNU gettext (msgmerge, msgattrib).
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The template of every message, extracted without expanding `{{#include}}`: included code and
# program output are never translated.
MDBOOK_BUILD__USE_DEFAULT_PREPROCESSORS=false MDBOOK_OUTPUT='{"xgettext": {}}' \
    mdbook build book -d "$work/pot" 2>/dev/null
msgfmt --check --output-file=/dev/null po/zh-CN.po
msgmerge --quiet --output-file="$work/merged.po" po/zh-CN.po "$work/pot/messages.pot"
untranslated=$(msgattrib --untranslated --no-obsolete "$work/merged.po" | grep -c '^msgid ' || true)
fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$work/merged.po" | grep -c '^msgid ' || true)
# msgattrib prints the header entry (msgid "") too when it prints anything.
untranslated=$(( untranslated > 0 ? untranslated - 1 : 0 ))
fuzzy=$(( fuzzy > 0 ? fuzzy - 1 : 0 ))
total=$(grep -c '^msgid ' "$work/pot/messages.pot")
total=$(( total - 1 ))
# The sidebar and every page's <title>: mdbook-gettext translates each chapter's name and each
# part title of SUMMARY.md by looking it up as a message of its own, so each must be translated
# as such, not only inside a longer message (a missing one leaves "Portability" in English in
# the Chinese sidebar while every extracted message is translated).
names="$work/names.pot"
printf 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n' >"$names"
sed -nE -e 's/^ *(- )?\[(.+)\]\([^)]*\) *$/\2/p' -e '/^# Summary$/d' -e 's/^# (.+)$/\1/p' book/src/SUMMARY.md |
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' |
    while IFS= read -r name; do printf '\nmsgid "%s"\nmsgstr ""\n' "$name"; done >>"$names"
msgmerge --quiet --no-fuzzy-matching --output-file="$work/names.po" po/zh-CN.po "$names"
titles=$(grep -c '^msgid ' "$names")
titles=$(( titles - 1 ))
missing=$(msgattrib --untranslated --no-obsolete "$work/names.po" | sed -n 's/^msgid "\(.\+\)"$/\1/p')
if [ -n "$missing" ]; then
    echo "error: po/zh-CN.po does not translate these titles of SUMMARY.md (the Chinese sidebar" \
        "and page titles would show them in English):" >&2
    printf '  %s\n' "$missing" >&2
    echo "hint: give each a paragraph of its own in SUMMARY.md (so that it is extracted), then" \
        "translate it" >&2
    exit 1
fi

if [ "$untranslated" -ne 0 ] || [ "$fuzzy" -ne 0 ]; then
    echo "error: po/zh-CN.po is behind the English text: $untranslated of $total messages" \
        "untranslated, $fuzzy fuzzy" >&2
    { msgattrib --untranslated --no-obsolete "$work/merged.po" | grep -A1 '^#: ' | head -20 >&2; } || true
    echo "hint: update it as CONTRIBUTING.md says (extract messages.pot, msgmerge --update," \
        "translate, remove the fuzzy flags)" >&2
    exit 1
fi
echo "translation: all $total messages of the book and its $titles titles (SUMMARY.md) are translated in po/zh-CN.po"
