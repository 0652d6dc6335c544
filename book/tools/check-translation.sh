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
if [ "$untranslated" -ne 0 ] || [ "$fuzzy" -ne 0 ]; then
    echo "error: po/zh-CN.po is behind the English text: $untranslated of $total messages" \
        "untranslated, $fuzzy fuzzy" >&2
    { msgattrib --untranslated --no-obsolete "$work/merged.po" | grep -A1 '^#: ' | head -20 >&2; } || true
    echo "hint: update it as CONTRIBUTING.md says (extract messages.pot, msgmerge --update," \
        "translate, remove the fuzzy flags)" >&2
    exit 1
fi
echo "translation: all $total messages of the book are translated in po/zh-CN.po"
