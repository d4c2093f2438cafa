#!/usr/bin/env bash
# The main job on the embedded default network: validate it, run the golden
# model on real Fashion-MNIST images (with a per-layer dump), and measure its
# accuracy on the whole test set.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
cargo build --release --quiet
nasa=target/release/nasa
out=${NASA_OUT:-rtl_out/default}
mkdir -p "$out"
echo "== nasa check (embedded default network)"
$nasa check
echo "== nasa golden: first 4 Fashion-MNIST test images, per-layer dump in $out/golden-dump"
$nasa golden --dataset fashion-mnist --count 4 --dump "$out/golden-dump"
echo "== nasa eval on the Fashion-MNIST test set"
$nasa eval --dataset fashion-mnist
