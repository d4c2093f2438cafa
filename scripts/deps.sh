#!/usr/bin/env bash
# Installs the Debian packages nasa needs when they are missing.
# Sourced by scripts/main.sh and scripts/test.sh; safe to run twice.
set -euo pipefail

NASA_DEBS=(verilator yosys iverilog ccache dataset-fashion-mnist)

nasa_install_debs() {
    local missing=()
    for p in "${NASA_DEBS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing missing Debian packages: ${missing[*]}" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "error: need root to install ${missing[*]}; run: apt-get install -y ${missing[*]}" >&2
            return 1
        fi
    fi
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } >&2; then
        echo "error: could not install ${missing[*]}; install them by hand (apt-get install -y ${missing[*]}) and rerun" >&2
        return 1
    fi
}

nasa_install_debs
command -v cargo >/dev/null 2>&1 || {
    echo "error: cargo not found; install the Rust toolchain (https://rustup.rs) and rerun" >&2
    exit 1
}
