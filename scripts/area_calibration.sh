#!/usr/bin/env bash
# Calibrates the mapper's area model against Yosys: generates the
# `models/features` accelerator (every kind) with several PE splits,
# synthesises each with `nasa synth` (synth_xilinx), fits
# LUTs = base + sum over kinds of PEs x LUTs per PE on the first designs by
# least squares, and reports the error of that fit on every design,
# including the ones left out of the fit. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
nasa=target/release/nasa
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# conv shift adder PEs; the last two are held out of the fit.
designs="4,4,4 8,4,4 4,8,4 4,4,8 2,2,2 8,8,8 3,6,5"
for d in $designs; do
    IFS=, read -r c s a <<< "$d"
    printf '[accelerator]\nname = "cal"\n[clp]\nrows = 1\ncols = %s\n[slp]\nrows = 1\ncols = %s\n[alp]\nrows = 1\ncols = %s\n' "$c" "$s" "$a" > "$tmp/$d.toml"
    $nasa gen models/features --arch "$tmp/$d.toml" -o "$tmp/$d" > /dev/null
    $nasa synth "$tmp/$d" --target xilinx --json > "$tmp/$d.json"
    rm -rf "$tmp/$d"
done
python3 - "$tmp" $designs <<'PY'
import json, sys
tmp, designs = sys.argv[1], sys.argv[2:]
rows = []
for d in designs:
    p = [int(v) for v in d.split(',')]
    r = json.load(open(f"{tmp}/{d}.json"))
    x = next(t for t in r['targets'] if t['target'] == 'xilinx')
    rows.append((d, p, x['total']['luts'], x['total']['flip_flops'],
                 {k: x['chunks'][k]['resources']['luts'] for k in ('conv', 'shift', 'adder')}))
fit = rows[:5]
# Least squares for [base, conv, shift, adder] on the fitted designs.
import itertools
A = [[1.0] + [float(v) for v in p] for _, p, _, _, _ in fit]
b = [float(l) for _, _, l, _, _ in fit]
n = 4
ata = [[sum(A[r][i] * A[r][j] for r in range(len(A))) for j in range(n)] for i in range(n)]
atb = [sum(A[r][i] * b[r] for r in range(len(A))) for i in range(n)]
# Gauss-Jordan
m = [row[:] + [atb[i]] for i, row in enumerate(ata)]
for i in range(n):
    piv = max(range(i, n), key=lambda r: abs(m[r][i]))
    m[i], m[piv] = m[piv], m[i]
    for r in range(n):
        if r != i:
            f = m[r][i] / m[i][i]
            m[r] = [x - f * y for x, y in zip(m[r], m[i])]
coef = [m[i][n] / m[i][i] for i in range(n)]
print(f"fit: LUTs = {coef[0]:.1f} + {coef[1]:.1f} x conv PEs + {coef[2]:.1f} x shift PEs + {coef[3]:.1f} x adder PEs")
print()
print("| conv, shift, adder PEs | in fit | LUTs (Yosys) | predicted | error | PE cells conv / shift / adder |")
print("| --- | --- | ---: | ---: | ---: | --- |")
for i, (d, p, luts, ffs, ch) in enumerate(rows):
    pred = coef[0] + sum(c * v for c, v in zip(coef[1:], p))
    cells = " / ".join(f"{ch[k] // max(1, pk)}" for k, pk in zip(('conv', 'shift', 'adder'), p))
    print(f"| {d.replace(',', ' + ')} | {'yes' if i < 5 else 'no'} | {luts:,} | {pred:,.0f} | {100 * (pred - luts) / luts:+.2f}% | {cells} per PE |")
PY
