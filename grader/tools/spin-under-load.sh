#!/usr/bin/env bash
# A spinning answer fails and a sleeping one passes, however loaded the machine (issue 20):
# grades five copies of a stored busy-polling wrong answer and five of the reference solution
# of 04_total_deadline with --jobs 1, 3 and 10 while two CPU hogs run. Prints each table.
# Usage: grader/tools/spin-under-load.sh   (from the workbook's root; Linux, bubblewrap)
set -euo pipefail
cd "$(dirname "$0")/../.."
class=$(mktemp -d)
trap 'rm -rf "$class"; kill $hogs 2>/dev/null || true' EXIT
python3 - "$class" <<'PY'
import sys
root, out = '.', sys.argv[1]
begin = '// ============================== YOUR PART =============================='
end = '// ============================ END OF YOUR PART ============================'
starter = open(f'{root}/exercises/04_total_deadline.rs').read()
wrong = open(f'{root}/solutions/wrong/04_total_deadline__busy_polling.rs').read().split('\n', 1)[1]
a, b = starter.index(begin) + len(begin), starter.index(end)
spin = starter[:a] + '\n' + wrong + '\n' + starter[b:]
sleep = open(f'{root}/solutions/04_total_deadline.rs').read()
for i in range(5):
    open(f'{out}/spin{i}.rs', 'w').write(spin.replace('fn main()', f'// copy {i}\nfn main()'))
    open(f'{out}/sleep{i}.rs', 'w').write(sleep.replace('fn main()', f'// copy {i}\nfn main()'))
PY
cargo build --quiet --bin check
yes > /dev/null & hogs=$!
yes > /dev/null & hogs="$hogs $!"
for jobs in 1 3 10; do
    echo "== --jobs $jobs, $(uptime)"
    target/debug/check grade "$class" --exercise 04_total_deadline --jobs "$jobs" 2>&1 |
        grep -E '^(spin|sleep)[0-9]|graded in'
done
