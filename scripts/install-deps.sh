#!/bin/sh
# SPDX-License-Identifier: MIT
# install-deps.sh - install hsmsim's build and test dependencies (Debian 12).
# Installs only what is missing; runs apt-get update once when it must.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
libssl-dev openssl libp11-kit-dev p11-kit libsqlite3-dev sqlite3
libcunit1-dev softhsm2 opensc valgrind python3
gnutls-bin libengine-pkcs11-openssl openjdk-17-jdk-headless python3-pykcs11
clang clang-tools clang-format cppcheck"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-deps: all dependencies present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing:$missing (run as root to install)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
