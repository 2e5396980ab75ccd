#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests need (Debian packages
# for the real parts: Chromium, a Secret Service, D-Bus; then npm packages), builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# qemu-user-static and the arm64 C/C++ runtime: the release runs its linux/arm64 executable under qemu;
# systemd: systemd-analyze verifies the unit that `agent install` writes; git: the npm pack test clones.
debs=(chromium gnome-keyring dbus dbus-daemon dbus-bin qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross systemd git tinyproxy python3)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v kubectl >/dev/null || { echo "kubectl is not on PATH: the end-to-end tests drive the real kubectl" >&2; exit 1; }

npm ci --no-audit --no-fund
npm test
