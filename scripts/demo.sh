#!/usr/bin/env bash
# The demo: the whole recipe on real images, from nothing, ending with the labeling app.
#   DEMO_IMAGES=/some/folder  your own images instead of the Noto emoji; class sub-folders (ImageFolder) are the
#                             known labels that answer the loop's questions (without them, the demo stops before
#                             labelling and serves the app for you to label)
#   DEMO_DIR=demo             where the demo project goes (default: demo/ in the checkout)
#   DEMO_LABELS=100           how many training labels the loop asks for, in DEMO_ROUNDS rounds (default 5)
#   DEMO_HOLDOUT=400          how many val and test images get their labels (default 400)
#   DEMO_SERVE=0              stop after the reports instead of serving the app;  DEMO_PORT=8000
set -euo pipefail
cd "$(dirname "$0")/.."
tetsuban=.venv/bin/tetsuban
python=.venv/bin/python
cache=${XDG_CACHE_HOME:-$HOME/.cache}/tetsuban
demo=${DEMO_DIR:-demo}
labels=${DEMO_LABELS:-100}
rounds=${DEMO_ROUNDS:-5}
holdout=${DEMO_HOLDOUT:-400}
work=$demo/work
mkdir -p "$work"
known=$work/known-labels.csv

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -n "${DEMO_IMAGES:-}" ]; then
  source_dir=$DEMO_IMAGES
  project=$demo/$(basename "$source_dir")
  if ! $python scripts/demo_oracle.py folders "$source_dir" "$known"; then
    rm -f "$known"
  fi
else
  emoji=$cache/emoji-datasource-google-16.0.0
  if [ ! -d "$emoji/package/img/google/64" ]; then
    step "Fetching the Noto emoji images (npm package emoji-datasource-google@16.0.0) into $emoji"
    mkdir -p "$emoji"
    (cd "$emoji" && npm pack --silent emoji-datasource-google@16.0.0 >/dev/null && tar xzf emoji-datasource-google-16.0.0.tgz)
  fi
  source_dir=$emoji/package/img/google/64
  project=$demo/emoji
  $python scripts/demo_oracle.py emoji "$emoji/package/emoji.json" "$source_dir" "$known"
fi

# ask: list images with `tetsuban queue ARGS`, answer them from the known labels, import the answers
ask() {
  $tetsuban queue "$project" "$@" > "$work/asked.tsv"
  $python scripts/demo_oracle.py answer "$known" "$work/asked.tsv" "$work/answers.csv"
  $tetsuban import "$project" "$work/answers.csv" > /dev/null
}

if [ ! -f "$project/tetsuban.toml" ]; then
  step "tetsuban init $project"
  $tetsuban init "$project"
fi

step "Collect: tetsuban import $project $source_dir --no-folder-labels   (the images, without labels)"
$tetsuban import "$project" "$source_dir" --no-folder-labels

step "Survey: tetsuban survey $project   (sizes, brightness, blur, tilt, near-duplicates)"
$tetsuban survey "$project" | tail -n 12

step "Embed: tetsuban embed $project   (EfficientNet-Lite0 through ONNX Runtime, cached; before the split, so that look-alikes the model sees stay together)"
$tetsuban embed "$project"

step "Split: tetsuban split $project   (stratified; near-duplicates and look-alikes kept on one side; the test split is frozen)"
$tetsuban split "$project"

if [ ! -f "$known" ]; then
  printf '\n%s has no class folders, so nothing can answer for you: label in the app.\n' "$source_dir"
else
  step "Annotate: $labels labels in $rounds rounds, each chosen by the default strategy (tetsuban queue)"
  printf 'The demo answers each question from labels known in advance (%s), as a person would in the app.\n' "$known"
  per_round=$(( (labels + rounds - 1) / rounds ))
  for round in $(seq 1 "$rounds"); do
    printf 'Round %s of %s:\n' "$round" "$rounds"
    ask --count "$per_round"
  done
  step "Annotate the holdout: $holdout val and test images, at random (tetsuban queue --holdout)"
  printf 'The loop never asks for these; validation and the test set must stay samples of the data.\n'
  ask --holdout --count "$holdout"

  step "Preprocess and augment: tetsuban pipeline show $project; tetsuban preview $project -o $work/augment.png"
  $tetsuban pipeline show "$project"
  $tetsuban preview "$project" --n 8 -o "$work/augment.png"

  step "Train: tetsuban train $project   (a linear probe on the embeddings, validated on the val split)"
  $tetsuban train "$project" | tee "$work/train.log"
  model=$(sed -n 's/^Model: //p' "$work/train.log")

  step "Evaluate: tetsuban evaluate $model   (the test split, never used for training or choosing)"
  $tetsuban evaluate "$model" | tee "$work/evaluate.log"
  report=$(sed -n 's/^Report: //p' "$work/evaluate.log")

  step "Check: tetsuban doctor $project --model $model"
  $tetsuban doctor "$project" --model "$model"

  step "Deploy: tetsuban export $model --format web -o $demo/site   (a page that classifies offline; docs/deploy.md)"
  rm -rf "$demo/site"
  $tetsuban export "$model" --format web -o "$demo/site"
fi

$tetsuban labels export "$project" "$demo/labels.csv" > /dev/null
step "Done"
printf 'Project:          %s\n' "$project"
printf 'Survey report:    %s\n' "$project/survey.html"
if [ -n "${report:-}" ]; then
  printf 'Model:            %s\n' "$model"
  printf 'Evaluation:       %s\n' "$report"
  printf 'Web page:         %s   (python -m http.server -d %s, then open it)\n' "$demo/site" "$demo/site"
fi
printf 'Labels (CSV):     %s\n' "$demo/labels.csv"
[ -f "$work/augment.png" ] && printf 'Augmentations:    %s\n' "$work/augment.png"
printf 'Next:             tetsuban train %s --finetune   (minutes on a CPU; see bench/results/finetune.md)\n' "$project"

if [ "${DEMO_SERVE:-1}" != "0" ]; then
  step "Serve: tetsuban serve $project   (the labeling app; label more, the model retrains as you go)"
  exec $tetsuban serve "$project" --port "${DEMO_PORT:-8000}"
fi
