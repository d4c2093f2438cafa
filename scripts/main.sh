#!/usr/bin/env bash
# The main job on the embedded default network: validate it, map (size)
# and generate an accelerator, simulate it bit-exact against the golden model on
# real Fashion-MNIST images in Verilator, synthesise it with Yosys, run a
# layer pipeline of the same budget serially and pipelined, and measure the
# golden model's accuracy on the whole test set.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
cargo build --release --quiet
nasa=target/release/nasa
out=${NASA_OUT:-rtl_out}
mkdir -p "$out"
# Each step's heading also shows the seconds the previous steps took.
step() { echo "== [${SECONDS}s] $*"; }
SECONDS=0
step "nasa check (embedded default network)"
$nasa check
step "nasa map --budget 24 --compare -> $out/default.arch.toml"
$nasa map --budget 24 --compare -o "$out/default.arch.toml" > "$out/default.map.txt"
head -2 "$out/default.map.txt"
tail -3 "$out/default.map.txt"
step "nasa gen -> $out/default"
$nasa gen --arch "$out/default.arch.toml" -o "$out/default"
step "verilator --lint-only -Wall on the generated RTL"
(cd "$out/default" && verilator --lint-only -Wall --top-module nasa_top -f files.f)
# The AXI4 wrapper (docs/axi.md) around it.
(cd "$out/default" && verilator --lint-only -Wall --top-module nasa_axi -f files.f nasa_axi.v)
echo "lint clean"
step "nasa golden: 4 Fashion-MNIST test images, per-layer dump in $out/default-golden"
$nasa golden --dataset fashion-mnist --count 4 --dump "$out/default-golden"
step "nasa sim: 16 Fashion-MNIST test images in Verilator"
sim=$($nasa sim "$out/default" --images 16 --dataset fashion-mnist --build-dir sim/build)
echo "$sim"
step "nasa synth (Yosys synth_xilinx and generic synth, side by side; --target ecp5 adds place-and-route)"
synth=$($nasa synth "$out/default")
echo "$synth"
step "nasa map --budget 24 --pipeline: one engine per chunk, 8 images one layer at a time, then pipelined"
$nasa map --budget 24 --pipeline -o "$out/default-pipeline.arch.toml" | head -1
$nasa gen --arch "$out/default-pipeline.arch.toml" -o "$out/default-pipeline"
(cd "$out/default-pipeline" && verilator --lint-only -Wall --top-module nasa_top -f files.f)
serial=$($nasa sim "$out/default-pipeline" --images 8 --dataset fashion-mnist --serial --build-dir sim/build)
echo "serial:    $serial"
piped=$($nasa sim "$out/default-pipeline" --images 8 --dataset fashion-mnist --build-dir sim/build)
echo "pipelined: $piped"
step "nasa report: $out/default/report/index.html (model, simulation and synthesis)"
$nasa report "$out/default" | head -1
step "nasa eval on the Fashion-MNIST test set"
acc=$($nasa eval --dataset fashion-mnist)
echo "$acc"
echo
step "summary"
echo "RTL:        $out/default ($(wc -l < "$out/default/nasa_top.v") lines of top-level Verilog, lint-clean under verilator -Wall)"
echo "AXI4:       $out/default/nasa_axi.v (lint-clean), registers in $out/default/nasa_regs.h; run it: nasa sim $out/default --axi --images 16 --dataset fashion-mnist"
echo "simulation: $sim"
echo "synthesis:  $(echo "$synth" | head -1)"
echo "            multiply PEs: $(echo "$synth" | sed -n 's/^  conv chunk (\([0-9]*\) PE cells): [0-9]* LUTs, \([0-9]*\) DSPs/\2 DSPs for \1 PEs/p' | head -1)"
echo "            resource model (nasa map):$(grep -m1 '^FPGA resources by the model:' "$out/default.map.txt" | cut -d: -f2 | cut -d';' -f1)"
echo "pipeline:   serial $serial"
echo "            pipelined $piped"
echo "accuracy:   $acc"
