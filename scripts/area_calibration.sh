#!/usr/bin/env bash
# Calibrates the FPGA resource model (src/hw/map/fpga.rs) against Yosys.
#
# For each design below (tile-engine accelerators of `models/features` and
# of the default network, rows x conv/shift/adder columns), generates it,
# synthesises it with `nasa synth --no-pnr` for the targets given, and reads
# the model's inventory and estimate from `nasa report`. Then, per target:
# - LUTs: fits LUTs - PE cells = base + a x units (requantisers,
#   post-processing lanes and scalers) + b x scratchpad byte lanes (banks x
#   word) + c x descriptor entries, by least squares on all designs (a term
#   the data price below zero is dropped; entries only where both networks
#   ran), and reports each design's error in the fit and left out of it
#   (leave-one-out);
# - DSPs: the constant left after the components' DSPs (mean);
# - block RAMs: the model's count against Yosys' (no fit).
# Prints Markdown tables and the constants for src/hw/map/fpga.rs.
#
# usage: scripts/area_calibration.sh [WORKDIR] [TARGETS]
#   (NASA_CAL_DESIGNS: the design list, lines of label:network:rows:conv:shift:adder)
#   WORKDIR keeps every design and its synthesis (default: a temporary
#   directory); a design already synthesised there is not synthesised
#   again. TARGETS: comma-separated (default xilinx,ecp5,ice40).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=${1:-}
targets=${2:-xilinx,ecp5,ice40}
if [ -z "$work" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
# A copy of the binary: a rebuild during the run must not change the RTL
# of the designs not yet generated.
cp target/release/nasa "$work/nasa"
nasa=$work/nasa
# label network rows conv shift adder
designs=${NASA_CAL_DESIGNS:-"f1_444:models/features:1:4:4:4
f2_222:models/features:2:2:2:2
f4_172:models/features:4:1:7:2
f4_444:models/features:4:4:4:4
f2_844:models/features:2:8:4:4
d4_172:default:4:1:7:2
d2_484:default:2:4:8:4"}
for spec in $designs; do
    IFS=: read -r label net r c s a <<< "$spec"
    if [ ! -s "$work/$label.synth.json" ]; then
        {
            printf '[accelerator]\nname = "cal"\n'
            printf '[clp]\nrows = %s\ncols = %s\n[slp]\nrows = %s\ncols = %s\n[alp]\nrows = %s\ncols = %s\n' "$r" "$c" "$r" "$s" "$r" "$a"
            printf '[schedule]\nengine = "tiles"\n'
        } > "$work/$label.toml"
        rm -rf "${work:?}/$label"
        "$nasa" gen "$net" --arch "$work/$label.toml" -o "$work/$label" > /dev/null
        "$nasa" synth "$work/$label" --target "$targets" --no-pnr --json > "$work/$label.synth.json"
    fi
    "$nasa" report "$work/$label" -o "$work/$label.report" > /dev/null
done
python3 - "$work" $(for spec in $designs; do echo "${spec%%:*}"; done) <<'PY'
import json, sys
work, labels = sys.argv[1], sys.argv[2:]

def solve(A, b):
    """Least squares by the normal equations (None: singular)."""
    n = len(A[0])
    m = [[sum(r[i] * r[j] for r in A) for j in range(n)] + [sum(r[i] * y for r, y in zip(A, b))] for i in range(n)]
    for i in range(n):
        p = max(range(i, n), key=lambda r: abs(m[r][i]))
        m[i], m[p] = m[p], m[i]
        if abs(m[i][i]) < 1e-9:
            return None
        for r in range(n):
            if r != i:
                f = m[r][i] / m[i][i]
                m[r] = [x - f * y for x, y in zip(m[r], m[i])]
    return [m[i][n] / m[i][i] for i in range(n)]

rows = []
for d in labels:
    est = json.load(open(f"{work}/{d}.report/report.json"))["fpga_model"]["estimate"]
    synth = {t["target"]: t["total"] for t in json.load(open(f"{work}/{d}.synth.json"))["targets"]}
    rows.append((d, est, synth))

names = ["base", "per unit", "per byte lane", "per entry"]
for target in ["xilinx", "ecp5", "ice40"]:
    pts = []
    for d, est, synth in rows:
        if target not in synth:
            continue
        inv = est["inventory"]
        t = next(t for t in est["targets"] if t["target"] == target and t["dsp_blocks"])
        units = inv["requantisers"] + inv["post_lanes"] + inv["scalers"]
        x = [1.0, float(units), float(inv["banks"] * inv["word"]), float(inv["entries"])]
        pts.append(dict(d=d, x=x, m=synth[target], t=t, inv=inv, units=units))
    if len(pts) < 3:
        continue
    # Terms that vary in the data (entries only when both networks ran).
    use = [i for i in range(4) if i == 0 or len({p["x"][i] for p in pts}) > 1]
    fit = lambda ps: solve([[p["x"][i] for i in use] for p in ps], [p["m"]["luts"] - p["t"]["pe_luts"] for p in ps])
    # A term the data price below zero is dropped (the line must grow with
    # the design: the search bounds designs by their PE cells).
    while True:
        coef = fit(pts)
        neg = [i for k, i in enumerate(use) if i > 0 and coef[k] < 0]
        if not neg:
            break
        use.remove(neg[0])
    pred = lambda c, p: p["t"]["pe_luts"] + sum(c[k] * p["x"][i] for k, i in enumerate(use))
    conv = lambda p: p["inv"]["pes"][0]
    base_dsps = round(sum(p["m"]["dsps"] - conv(p) - 4 * p["units"] for p in pts) / len(pts))
    print(f"### {target}: {len(pts)} designs")
    print()
    print("LUTs = PE cells + " + " + ".join(f"{coef[k]:.1f} ({names[i]})" for k, i in enumerate(use)) + f"; DSPs = conv PEs + 4 x units + {base_dsps}")
    print()
    print("| design | LUTs (Yosys) | model | error | left out | DSPs (Yosys) | model | block RAMs (Yosys) | model |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for j, p in enumerate(pts):
        rest = pts[:j] + pts[j + 1:]
        c1 = fit(rest) if len(rest) >= len(use) else None
        loo = f"{100 * (pred(c1, p) - p['m']['luts']) / p['m']['luts']:+.1f}%" if c1 else "n/a"
        dsp = conv(p) + 4 * p["units"] + base_dsps
        print(f"| {p['d']} | {p['m']['luts']:,} | {pred(coef, p):,.0f} | {100 * (pred(coef, p) - p['m']['luts']) / p['m']['luts']:+.1f}% | {loo} | {p['m']['dsps']} | {dsp} | {p['m']['block_rams']} | {p['t']['block_rams']} |")
    print()
PY
