#!/usr/bin/env bash
# The demo: real images into a project, from nothing.
#   DEMO_IMAGES=/some/folder  use your own folder of images instead of the Noto emoji
#   DEMO_DIR=demo             where the demo project goes (default: demo/ in the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."
tetsuban=.venv/bin/tetsuban
cache=${XDG_CACHE_HOME:-$HOME/.cache}/tetsuban
project=${DEMO_DIR:-demo}/emoji

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -n "${DEMO_IMAGES:-}" ]; then
  source_dir=$DEMO_IMAGES
  labels_csv=
else
  emoji=$cache/emoji-datasource-google-16.0.0
  if [ ! -d "$emoji/package/img/google/64" ]; then
    step "Fetching the Noto emoji images (npm package emoji-datasource-google@16.0.0) into $emoji"
    mkdir -p "$emoji"
    (cd "$emoji" && npm pack --silent emoji-datasource-google@16.0.0 >/dev/null && tar xzf emoji-datasource-google-16.0.0.tgz)
  fi
  source_dir=$emoji/package/img/google/64
  labels_csv=$(dirname "$project")/emoji-labels.csv
fi

if [ ! -f "$project/tetsuban.toml" ]; then
  step "tetsuban init $project"
  $tetsuban init "$project"
fi

step "tetsuban import $project $source_dir"
$tetsuban import "$project" "$source_dir"

if [ -n "$labels_csv" ]; then
  step "Labels: each emoji's Unicode category from emoji.json, written to $labels_csv and imported"
  .venv/bin/python scripts/emoji_labels.py "$emoji/package/emoji.json" "$source_dir" "$labels_csv"
  $tetsuban import "$project" "$labels_csv"
fi

step "tetsuban status $project"
$tetsuban status "$project" --skipped 10

step "tetsuban labels export $project $(dirname "$project")/labels.csv"
$tetsuban labels export "$project" "$(dirname "$project")/labels.csv"

step "tetsuban embed $project   (EfficientNet-Lite0 through ONNX Runtime; cached, so a second run costs nothing)"
$tetsuban embed "$project"

if [ -n "$labels_csv" ]; then
  step "tetsuban train $project   (a linear probe on the embeddings of the labelled images)"
  $tetsuban train "$project" | tee "$(dirname "$project")/train.log"
  model=$(sed -n 's/^Model: //p' "$(dirname "$project")/train.log")
  predictions=$(dirname "$project")/predictions.csv
  step "tetsuban predict $model $source_dir -o $predictions"
  $tetsuban predict "$model" "$source_dir" -o "$predictions"
  head -4 "$predictions"
fi

printf '\nThe project is in %s; its labels are in %s.\n' "$project" "$(dirname "$project")/labels.csv"
