#!/usr/bin/env bash
# The mapper's predicted cycles against Verilator, layer by layer, on the
# default network and five others (docs/benchmarks.md): each design is
# chosen by `nasa map` (or `nasa size`, or a 1 KiB buffer that the
# activations overflow), generated, simulated on two images (the first
# starts from an empty buffer, the second finds the first's activations),
# and every layer's measured and predicted cycles printed as a Markdown
# table (the second image's; the worst error covers both).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
nasa=target/release/nasa
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
small="$tmp/small.toml"
printf '[accelerator]\nname = "small"\n[clp]\nrows = 2\ncols = 2\n[slp]\nrows = 2\ncols = 2\n[alp]\nrows = 2\ncols = 3\n[buffer]\nwords = 1024\nbanks = 1\n[memory]\ndata_bits = 128\n' > "$small"
cat > "$tmp/table.py" <<'PY'
import json, sys
name, how, layers = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(sys.stdin)
rows = r['layers']
worst = max(abs(l['predicted'] - l['measured']) / l['measured'] for l in rows + r['first_image_layers'])
first = sum(l['measured'] for l in r['first_image_layers'])
second = sum(l['measured'] for l in rows)
print(f"| {name} ({how}) | {len(rows)} | {first:,} | {second:,} | {r['predicted_cycles']:,.1f} | {r['cycles_per_inference']:,.1f} | {100 * worst:.2f}% |")
with open(layers, 'a') as f:
    for l in rows:
        e = (l['predicted'] - l['measured']) / l['measured']
        f.write(f"| {l['layer']} ({l['op']}) | | {l['measured']:,} | {l['predicted']:,} | {100 * e:+.2f}% |\n")
PY
case_() { # name net how
    local name=$1 net=$2 how=$3 arch="$tmp/$1.toml"
    case $how in
        map:*) $nasa map "$net" --budget "${how#map:}" -o "$arch" > /dev/null ;;
        size:*) $nasa size "$net" --pes "${how#size:}" -o "$arch" > /dev/null ;;
        small) arch=$small ;;
    esac
    $nasa gen "$net" --arch "$arch" -o "$tmp/$name" > /dev/null
    echo "| **$name** | | | | |" >> "$tmp/layers.md"
    $nasa sim "$tmp/$name" --images 2 --json | python3 "$tmp/table.py" "$name" "$how" "$tmp/layers.md"
}
echo "| network (design) | layers | image 1 | image 2 | predicted mean | measured mean | worst layer error |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
case_ default default map:24
case_ features models/features size:24
case_ features-1k models/features small
case_ hybrid-fmnist models/hybrid-fmnist map:12
case_ conv-fmnist models/conv-fmnist map:16
case_ default-conv models/default-conv map:20
echo
echo "Per layer:"
echo
echo "| layer | | measured | predicted | error |"
echo "| --- | ---: | ---: | ---: | ---: |"
cat "$tmp/layers.md"
