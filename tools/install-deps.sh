#!/usr/bin/env bash
# Installs what sam-rt's build and tests need, from Debian's packages: the build's
# libraries, Check and jansson for the C tests, Python with NumPy for the Python package.
# --torch adds Debian's PyTorch (about 1 GB installed), with which the Python tests also
# check predict_torch's tensors; --browser adds chromium (and Node.js when missing) for the
# page's browser test; --fuzz adds clang and its sanitizer runtimes for the libFuzzer
# targets (tests/fuzz). CI installs all three.
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
packages="build-essential cmake pkg-config libyaml-dev libopenblas-openmp-dev libpng-dev libjpeg62-turbo-dev libmicrohttpd-dev libgnutls28-dev
          libjansson-dev check libsimde-dev python3 python3-numpy python3-venv python3-pil"
for flag in "$@"; do
  case "$flag" in
    --torch) packages="$packages python3-torch" ;;
    --fuzz) packages="$packages clang libclang-rt-dev" ;;
    --browser) # the page's browser test: Debian's chromium, driven from Node.js by npm's playwright-core
      packages="$packages chromium fonts-dejavu-core"
      command -v npm >/dev/null || packages="$packages nodejs npm" ;;
    *) echo "usage: $0 [--torch] [--browser] [--fuzz]" >&2; exit 2 ;;
  esac
done
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $packages >/dev/null
echo "install-deps:" $packages
