#!/usr/bin/env bash
# The layer pipeline (tile engines) in Verilator (docs/benchmarks.md,
# docs/results.md): each pipelined design is generated, run on 8 Fashion-MNIST images one
# layer at a time (`nasa sim --serial`, the layer-by-layer baseline of the
# same hardware) and pipelined, and both runs are printed beside the
# model's predictions as a Markdown table. The last line runs the best
# layer-by-layer design of the same budget (one engine, no pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
nasa=target/release/nasa
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
images=8
printf '[accelerator]\nname = "small"\n[clp]\nrows = 2\ncols = 2\n[slp]\nrows = 2\ncols = 3\n[alp]\nrows = 2\ncols = 2\n[schedule]\npipeline = true\n' > "$tmp/small.toml"
run() { # dir [--serial]: "cycles/inference predicted"
    $nasa sim "$1" --images $images --dataset fashion-mnist ${2:-} --json |
        python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["pass"]; print(r["cycles_per_inference"], r["predicted_cycles"])'
}
row() { # slug label net
    local slug=$1 net=$3 arch="$tmp/$1.toml"
    local pes
    pes=$(python3 -c 'import sys, tomllib; a = tomllib.load(open(sys.argv[1], "rb")); print("/".join(str(a[k]["rows"] * a[k]["cols"]) if k in a else "0" for k in ("clp", "slp", "alp")))' "$arch")
    $nasa gen "$net" --arch "$arch" -o "$tmp/$slug" > /dev/null
    read -r s sp < <(run "$tmp/$slug" --serial)
    read -r p pp < <(run "$tmp/$slug")
    python3 - "$2" "$pes" "$s" "$sp" "$p" "$pp" <<'PY'
import sys
name, pes, s, sp, p, pp = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
print(f"| {name} | {pes} | {s:,.0f} | {100 * (sp / s - 1):+.2f}% | {p:,.0f} | {100 * (pp / p - 1):+.2f}% | x{s / p:.2f} |")
PY
}
echo "| design | PEs conv/shift/adder | serial cycles per image | model | pipelined cycles per image | model | throughput gain |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
$nasa map default --budget 24 --pipeline --objective latency -o "$tmp/p24.toml" > /dev/null
row p24 "default, map --budget 24 --pipeline" default
$nasa map default --budget 168 --pipeline --objective latency -o "$tmp/p168.toml" > /dev/null
row p168 "default, map --budget 168 --pipeline" default
$nasa map default --budget 24 -o "$tmp/edp.toml" > /dev/null
printf '\n[schedule]\npipeline = true\n' >> "$tmp/edp.toml"
row edp "default, map --budget 24 (the EDP design), pipelined" default
row small "features, 2-row engines" models/features
$nasa map default --budget 24 --objective latency -o "$tmp/best.toml" > /dev/null
$nasa gen default --arch "$tmp/best.toml" -o "$tmp/best" > /dev/null
read -r b bp < <($nasa sim "$tmp/best" --images $images --dataset fashion-mnist --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["pass"]; print(r["cycles_per_inference"], r["predicted_cycles"])')
echo
echo "Best layer-by-layer design of 24 areas (map --budget 24 --objective latency): $b cycles per image (model $bp)."
