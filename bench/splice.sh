#!/usr/bin/env bash
# bench/splice.sh NAME FILE: puts FILE's text into bench/RESULTS.md between
# `<!-- NAME:begin -->` and `<!-- NAME:end -->` (appended when the markers are missing), so that
# bench/load.sh and bench/micro.sh each rewrite their own section only.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
part=$2
results=${RESULTS:-bench/RESULTS.md}
[ -f "$results" ] || printf '# Benchmark results\n\nWritten by `bash bench/micro.sh` (criterion) and `bash bench/load.sh` (HTTP load).\n' >"$results"
python3 - "$name" "$part" "$results" <<'EOF'
import sys

name, part, results = sys.argv[1:]
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
text = open(results).read()
section = f"{begin}\n{open(part).read().rstrip()}\n{end}"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + section + tail
else:
    text = text.rstrip() + "\n\n" + section + "\n"
open(results, "w").write(text)
EOF
