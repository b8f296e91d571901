#!/usr/bin/env bash
# Installs what sam-rt's build and tests need, from Debian's packages: the build's
# libraries, Check and jansson for the C tests, Python with NumPy for the Python package.
# --torch adds Debian's PyTorch (about 1 GB installed), with which the Python tests also
# check predict_torch's tensors; CI installs it.
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
packages="build-essential cmake pkg-config libyaml-dev libopenblas-openmp-dev libpng-dev libjpeg62-turbo-dev libmicrohttpd-dev libgnutls28-dev
          libjansson-dev check python3 python3-numpy python3-venv"
case "${1:-}" in
  "") ;;
  --torch) packages="$packages python3-torch" ;;
  *) echo "usage: $0 [--torch]" >&2; exit 2 ;;
esac
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $packages >/dev/null
echo "install-deps:" $packages
