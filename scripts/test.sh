#!/usr/bin/env bash
# The whole test suite, in two tiers. The fast tier (`cargo test`: unit,
# property, CLI and model tests, about a minute) is what a developer runs
# alone; the slow tier (`cargo test -- --ignored`: Verilator, Icarus and
# Yosys runs, training and search runs) follows it here. `--fast` stops
# after the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
echo "== fast tier"
cargo test --locked
if [ "${1:-}" = "--fast" ]; then exit 0; fi
echo "== slow tier (simulation, synthesis, training)"
cargo test --locked -- --ignored
