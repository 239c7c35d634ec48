#!/usr/bin/env bash
# The criterion benches (`cargo bench`), summarised into bench/RESULTS.md ("micro" section):
# presign per URL (aws-sdk-s3 vs the fast signer), JWT verification per algorithm (token cache
# off and on), the whole GET /videos/{id}/url handler in-process, and an HLS media playlist of
# 2,000 segments rewritten for one request.
#
#   bash bench/micro.sh            # criterion defaults
#   QUICK=1 bash bench/micro.sh    # 1 s warm-up, 3 s measurement per bench
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
[ -n "${QUICK:-}" ] && args=(-- --warm-up-time 1 --measurement-time 3)
out=$(mktemp)
trap 'rm -f "$out" "$out.md"' EXIT
cargo bench --locked --bench presign --bench jwt --bench handler --bench hls "${args[@]}" | tee "$out"

python3 - "$out" >"$out.md" <<'EOF'
import re
import subprocess
import sys

UNITS = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}
times, name = {}, None
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"^(\S+/\S+)", line)
    if m and not line.startswith(("Benchmarking", "Found", "Gnuplot")):
        name = m.group(1)
    m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
    if m and name:
        times[name] = float(m.group(1)) * UNITS[m.group(2)]

def us(name):
    return times.get(name)

def fmt(value):
    return "–" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.1f}")

def ratio(a, b):
    return "–" if a is None or b is None else f"{a / b:.1f}×"

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
print("## Micro-benchmarks (criterion)")
print()
print(f"`bash bench/micro.sh` (`cargo bench`), {rustc}, {cpu}. Median time per call, in µs.")
print()
print("| presign one URL | aws-sdk-s3 | fast signer | fast is |")
print("|---|---:|---:|---:|")
for op in ("get", "put", "upload_part"):
    sdk, fast = us(f"presign/sdk/{op}"), us(f"presign/fast/{op}")
    print(f"| {op} | {fmt(sdk)} | {fmt(fast)} | {ratio(sdk, fast)} faster |")
print()
print("| verify a JWT | every request | token cache hit | cache saves |")
print("|---|---:|---:|---:|")
for alg in ("HS256", "RS256", "ES256", "EdDSA"):
    a, b = us(f"jwt_verify/{alg}/uncached"), us(f"jwt_verify/{alg}/cached")
    print(f"| {alg} | {fmt(a)} | {fmt(b)} | {ratio(a, b)} |")
print()
print("| whole `GET /videos/{id}/url` in-process (warm caches) | aws-sdk-s3 signer | fast signer | fast is |")
print("|---|---:|---:|---:|")
for alg in ("HS256", "ES256"):
    sdk, fast = us(f"get_video_url/Sdk/{alg}"), us(f"get_video_url/Fast/{alg}")
    print(f"| {alg} token | {fmt(sdk)} | {fmt(fast)} | {ratio(sdk, fast)} faster |")
print()
print("| HLS: a 2,000-segment media playlist rewritten for one request, in-process | aws-sdk-s3 signer | fast signer | fast is | fast, `presign.time_window_secs = 60` (reused within the window) |")
print("|---|---:|---:|---:|---:|")
group = "hls_media_playlist_2000_segments"
sdk, fast, cached = us(f"{group}/Sdk"), us(f"{group}/Fast"), us(f"{group}/Fast/window_60s")
print(f"| µs per request | {fmt(sdk)} | {fmt(fast)} | {ratio(sdk, fast)} faster | {fmt(cached)} |")
EOF
bash bench/splice.sh micro "$out.md"
cat "$out.md"
