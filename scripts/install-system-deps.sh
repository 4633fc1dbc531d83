#!/usr/bin/env bash
# System packages the test suite needs: nginx (the scale-out test) and Chromium (the browser test).
# Installs them with apt-get only if they are missing; runs `apt-get update` once first.
set -euo pipefail

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "install-system-deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
else
    SUDO=
fi
echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
# Debian starts nginx's own service on install when it can; the tests run their own nginx, so stop any default one.
if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
elif [ -f /run/nginx.pid ]; then
    $SUDO kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi
