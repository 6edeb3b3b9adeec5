#!/usr/bin/env bash
# Creates benchmarks/peer/.venv (Python 3.11) from requirements.txt, for seed_sasrec.py.
#
# Idempotent: the venv holds a stamp with the sha256 of requirements.txt and the interpreter's
# version; when they match, nothing is done. Otherwise the venv is rebuilt from scratch.
#
# Installs with uv when it can find it (fast; PEER_UV, `uv` on PATH, or the project's
# .venv/bin/uv), else (or with PEER_NO_UV=1) with pip. Either way `--no-deps`: requirements.txt
# is the whole, pinned set.
# The interpreter: $PEER_PYTHON, else python3.11 on PATH, else pyenv's 3.11.x, else python3 if it
# is 3.11.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.peer-requirements.stamp"

find_python() {
    if [[ -n "${PEER_PYTHON:-}" ]]; then echo "$PEER_PYTHON"; return; fi
    if command -v python3.11 >/dev/null 2>&1; then command -v python3.11; return; fi
    if command -v pyenv >/dev/null 2>&1; then
        local root; root="$(pyenv root)"
        local cand; cand="$(ls -d "$root"/versions/3.11.* 2>/dev/null | sort -V | tail -1 || true)"
        if [[ -n "$cand" && -x "$cand/bin/python3" ]]; then echo "$cand/bin/python3"; return; fi
    fi
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        command -v python3; return
    fi
    echo "setup.sh: no Python 3.11 found (set PEER_PYTHON)" >&2
    exit 1
}

find_uv() {
    if [[ -n "${PEER_NO_UV:-}" ]]; then echo ""; return; fi
    if [[ -n "${PEER_UV:-}" ]]; then echo "$PEER_UV"; return; fi
    if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
    if [[ -x "$HERE/../../.venv/bin/uv" ]]; then echo "$HERE/../../.venv/bin/uv"; return; fi
    echo ""
}

PY="$(find_python)"
PYVER="$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
WANT="$(sha256sum "$REQ" | cut -d' ' -f1) python-$PYVER"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/python" ]]; then
    echo "peer venv up to date: $VENV"
    exit 0
fi

start=$(date +%s)
rm -rf "$VENV"
UV="$(find_uv)"
if [[ -n "$UV" ]]; then
    "$UV" venv --quiet --python "$PY" "$VENV"
    "$UV" pip install --quiet --python "$VENV/bin/python" --no-deps -r "$REQ"
else
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --no-deps -r "$REQ"
fi

# The checks the benchmark relies on: Keras 3 on the JAX backend, no tf-keras in the way.
KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" - <<'EOF'
import keras, keras_hub, keras_rs, jax, tensorflow as tf
assert keras.__version__.startswith("3."), keras.__version__
assert keras.backend.backend() == "jax", keras.backend.backend()
print("keras", keras.__version__, "| keras_hub", keras_hub.__version__, "| keras_rs", keras_rs.__version__,
      "| jax", jax.__version__, "| tensorflow", tf.__version__, "| backend", keras.backend.backend())
EOF

echo "$WANT" > "$STAMP"
echo "peer venv ready in $(( $(date +%s) - start ))s: $VENV"
