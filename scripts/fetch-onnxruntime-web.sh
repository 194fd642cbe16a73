#!/usr/bin/env bash
# The browser runtime `tetsuban export --format web` copies into every site: three files of the npm package
# onnxruntime-web (npm checks the package against the registry's integrity hash), put in DEST whole or not at
# all. Usage: fetch-onnxruntime-web.sh DEST
set -euo pipefail
version=1.31.1  # tetsuban.deploy.web.ORT_WEB_VERSION
dest=${1:?usage: fetch-onnxruntime-web.sh DEST}
files=(ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm)
have=0
for name in "${files[@]}"; do [[ -f "$dest/$name" ]] && have=$((have + 1)); done
if ((have == ${#files[@]})); then
    exit 0
fi
command -v npm >/dev/null || { echo "npm is needed to fetch onnxruntime-web (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "onnxruntime-web@$version" >/dev/null && tar xzf "onnxruntime-web-$version.tgz")
mkdir -p "$work/ready"
for name in "${files[@]}"; do cp "$work/package/dist/$name" "$work/ready/$name"; done
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$work/ready" "$dest"
