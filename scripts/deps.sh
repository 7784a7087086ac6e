#!/bin/sh
# Install barrel's build and test dependencies on Debian 12 with apt-get.
# Idempotent and quiet: it installs only what is missing and prints one
# line per action. Run as root, or as a user with sudo.
set -eu

PKGS="build-essential pkg-config
libpq-dev libarchive-dev libzstd-dev libssh2-1-dev libssl-dev libcmocka-dev
postgresql-15 postgresql-client-15
openssh-server openssh-client
zstd lz4 bzip2 gzip tar
python3 python3-jsonschema barman barman-cli groff-base
clang libclang-rt-14-dev valgrind
debhelper lintian systemd"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "deps: installing$missing"
# Installing postgresql-15 must not create and start a 'main' cluster: the
# tests start throwaway clusters of their own.
if [ ! -e /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf; then
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee -a /etc/postgresql-common/createcluster.conf >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
# keep our createcluster.conf if dpkg asks about it
$SUDO apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold $missing >/dev/null
echo "deps: done"
