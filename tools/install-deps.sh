#!/usr/bin/env bash
# Installs exactly what sam-rt's build and tests need, from Debian's packages.
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config libyaml-dev libopenblas-openmp-dev libpng-dev libjpeg62-turbo-dev libjansson-dev check >/dev/null
echo "install-deps: build-essential cmake pkg-config libyaml-dev libopenblas-openmp-dev libpng-dev libjpeg62-turbo-dev libjansson-dev check"
