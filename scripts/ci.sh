#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests need (Debian packages for the
# real parts: Chromium, a Secret Service, D-Bus, qemu, Wine, Go, Ruby; then npm packages), builds, and
# runs every tier, each timed:
#   1. the full suite (unit, integration, rig, e2e, dist) on Node 24 (the release for every platform is built here)
#   2. unit, integration and e2e on Node 22 (the oldest Node the npm package supports)
#   3. e2e against the linux/amd64 release executable (KUBECTL_OIDC_TEST_PLUGIN)
#   4. soak: the arm64 release under qemu, the windows release under Wine, the kill loop x100, 60 s of load,
#      10,000 hostile socket frames
# Together they run every test file: scripts/test.mjs checks that each is in a group run here (scripts/test-groups.mjs).
# A missing tool fails the run (CI=true makes every test that needs one throw instead of skipping).
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-true}"

# qemu-user-static and the arm64 C/C++ runtime: the arm64 release runs under qemu; systemd:
# systemd-analyze verifies the unit that `agent install` writes; git: the npm pack test clones;
# ruby: `ruby -c` checks the Homebrew formula; golang-go: a Go-built darwin/arm64 executable is the
# reference for the darwin code signature; wine64 + gcc-mingw-w64-x86-64: the windows release under Wine
# (with a stand-in bcryptprimitives.dll built at test time); python3: plistlib reads back the launchd plist.
debs=(chromium gnome-keyring dbus dbus-daemon dbus-bin qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross systemd git tinyproxy ruby golang-go wine64 gcc-mingw-w64-x86-64 python3)
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
node24="$PWD/node_modules/node24/bin"
node22="$PWD/node_modules/node22/bin"
for n in "$node24/node" "$node22/node"; do [ -x "$n" ] || { echo "missing $n (devDependencies node22/node24)" >&2; exit 1; }; done

# Every tier runs even when one before it failed (each says something different); the run fails at the end.
summary=()
failed=0
tier() {
  local name="$1"; shift
  local t0=$SECONDS
  echo "=== tier: $name"
  if "$@"; then
    summary+=("passed  $((SECONDS - t0)) s  $name")
  else
    summary+=("FAILED  $((SECONDS - t0)) s  $name")
    failed=1
  fi
}

env PATH="$node24:$PATH" node scripts/build.mjs
tier "full suite, Node 24" env PATH="$node24:$PATH" node scripts/test.mjs
tier "unit + integration + e2e, Node 22" env PATH="$node22:$PATH" node scripts/test.mjs unit integration e2e
tier "e2e, release executable" env PATH="$node24:$PATH" node scripts/test.mjs e2e --release
tier "soak" env PATH="$node24:$PATH" node scripts/test.mjs soak
echo "=== tiers (total $SECONDS s):"
printf '  %s\n' "${summary[@]}"
exit $failed
