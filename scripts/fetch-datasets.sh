#!/usr/bin/env bash
# Fill a folder with the same real datasets as ../shared/datasets, from the package registries:
#   emoji-google/   npm   emoji-datasource-google@16.0.0 (img/google/64, emoji.json, categories.json, LICENSE)
#   fashion-mnist/  Debian dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)
#   photos/         Debian opencv-doc (examples/data) and PyPI scikit-image==0.26.0 (skimage/data)
#   faces-lfw-subset/ PyPI scikit-image==0.26.0 (skimage/data/lfw_subset.npy)
# Usage: scripts/fetch-datasets.sh DEST
set -euo pipefail
dest=${1:?usage: $0 DEST}
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"

if [ ! -d "$dest/emoji-google/64" ]; then
  echo "fetching emoji-datasource-google@16.0.0 (npm)"
  (cd "$work" && npm pack --silent emoji-datasource-google@16.0.0 >/dev/null && tar xzf emoji-datasource-google-16.0.0.tgz)
  mkdir -p "$dest/emoji-google.part"
  cp -r "$work/package/img/google/64" "$dest/emoji-google.part/64"
  cp "$work/package/emoji.json" "$work/package/categories.json" "$work/package/LICENSE" "$dest/emoji-google.part/"
  mv "$dest/emoji-google.part" "$dest/emoji-google"
fi

debian_package() {  # NAME: download and unpack a Debian package into $work/NAME
  (cd "$work" && { apt-get download "$1" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download "$1" >/dev/null; }; })
  dpkg-deb -x "$work"/"$1"_*.deb "$work/$1"
}

if [ ! -d "$dest/fashion-mnist" ]; then
  echo "fetching dataset-fashion-mnist (Debian)"
  debian_package dataset-fashion-mnist
  mkdir -p "$dest/fashion-mnist.part"
  cp "$work"/dataset-fashion-mnist/usr/share/datasets/fashion-mnist/*-ubyte.gz "$dest/fashion-mnist.part/"
  mv "$dest/fashion-mnist.part" "$dest/fashion-mnist"
fi

if [ ! -d "$dest/photos" ] || [ ! -d "$dest/faces-lfw-subset" ]; then
  echo "fetching opencv-doc (Debian) and scikit-image==0.26.0 (PyPI) sample photos"
  debian_package opencv-doc
  "$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$work/skimage" scikit-image==0.26.0
  mkdir -p "$dest/photos.part" "$dest/faces-lfw-subset"
  for name in apple baboon building butterfly fruits orange squirrel_cls starry_night; do
    cp "$work/opencv-doc/usr/share/doc/opencv-doc/examples/data/$name.jpg" "$dest/photos.part/"
  done
  (cd "$work/skimage" && "$python" -m zipfile -e ./*.whl unpacked)
  for name in astronaut.png chelsea.png coffee.png rocket.jpg hubble_deep_field.jpg; do
    cp "$work/skimage/unpacked/skimage/data/$name" "$dest/photos.part/"
  done
  cp "$work/skimage/unpacked/skimage/data/lfw_subset.npy" "$dest/faces-lfw-subset/"
  rm -rf "$dest/photos" && mv "$dest/photos.part" "$dest/photos"
fi
echo "datasets ready in $dest"
