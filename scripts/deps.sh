#!/usr/bin/env bash
# System packages the build and tests need, installed from Debian's packages
# when missing (as root): OpenSSL headers for the WebDriver client, and
# Chromium with ChromeDriver for the browser tests.
set -euo pipefail
need=()
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
((${#need[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "deps.sh: missing ${need[*]}; install them (apt-get install ${need[*]})" >&2
  exit 1
fi
echo "deps.sh: installing ${need[*]}" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
