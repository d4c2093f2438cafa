#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property and CLI tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
