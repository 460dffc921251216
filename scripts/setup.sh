#!/usr/bin/env bash
# Prepare this checkout on Debian 12 (bookworm): npm packages, a WebGPU adapter for Dawn in Node, Chromium
# for the browser test and, optionally, lavapipe-in-Chromium for shader-f16 in the browser.
# Idempotent: every step checks first and does nothing when already satisfied. A machine with a working GPU
# gets no Vulkan driver installed; the software driver (Mesa lavapipe) is only installed when Dawn finds no
# adapter at all.
#
#   bash scripts/setup.sh [--with-lavapipe-chromium]
#
# Needs root (or password-less sudo) only for apt-get; without it, apt steps are skipped or fail with the
# command to run by hand.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash scripts/setup.sh [--with-lavapipe-chromium]

  1. npm ci (npm install without a lockfile) when node_modules is missing or older than the lockfile
  2. Chromium from Debian (/usr/bin/chromium) for the browser test, and Xvfb (xvfb) for the `vilavt app` window
     test, when missing
  3. probe for a WebGPU adapter with Dawn (scripts/probe-adapter.mjs)
  4. only if there is none: Mesa lavapipe (software Vulkan) from bookworm-backports, then probe again
  5. --with-lavapipe-chromium: build .chromium-lvp (Chromium + lavapipe with shader-f16, see
     tools/chromium-lavapipe/); needs gcc and libvulkan-dev, installed when missing
EOF
}

WITH_LVP_CHROMIUM=0
for arg in "$@"; do
  case "$arg" in
    --with-lavapipe-chromium) WITH_LVP_CHROMIUM=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "setup: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export DEBIAN_FRONTEND=noninteractive

SUMMARY=()
note() { SUMMARY+=("$1"); }
step() { printf '\n== setup: %s\n' "$1"; }
die() { printf '\nsetup: ERROR: %s\n' "$1" >&2; exit 1; }

# Dawn wants a private (0700) runtime dir; a fresh container or CI job often has none.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xdg-rt-XXXXXX")
  chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_RUNTIME_DIR
fi

# --- privileges and apt -------------------------------------------------------------------------------
AS_ROOT=()
CAN_APT=0
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    CAN_APT=1
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    AS_ROOT=(sudo -n env DEBIAN_FRONTEND=noninteractive)
    CAN_APT=1
  fi
fi
CODENAME=$( . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}" ) || CODENAME=""

APT_UPDATED=0
apt_install() { # apt_install [-t RELEASE] PKG...
  [ "$APT_UPDATED" -eq 1 ] || { "${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=600 update; APT_UPDATED=1; }
  "${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@"
}

# --- 1. npm packages ----------------------------------------------------------------------------------
step "npm packages"
command -v node >/dev/null 2>&1 || die "Node.js >= 20.9 is required and not installed (Debian 12's nodejs is 18; use NodeSource or nvm)."
NODE_OK=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=9)?1:0)')
[ "$NODE_OK" = 1 ] || die "Node.js >= 20.9 is required, found $(node -v)."
# npm writes node_modules/.package-lock.json after every successful install; compare against it.
if [ ! -f node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ] \
   || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  if [ -f package-lock.json ]; then
    echo "node_modules missing or older than package-lock.json: npm ci"
    npm ci --no-audit --no-fund
    note "npm: ran npm ci"
  else
    echo "no package-lock.json: npm install"
    npm install --no-audit --no-fund
    note "npm: ran npm install"
  fi
else
  echo "node_modules is up to date with package-lock.json"
  note "npm: up to date"
fi

# --- 2. Chromium for the browser test -----------------------------------------------------------------
step "Chromium (browser test)"
if [ -x /usr/bin/chromium ]; then
  echo "found /usr/bin/chromium ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  note "chromium: already installed"
elif [ "$CAN_APT" -eq 1 ]; then
  echo "installing Debian's chromium"
  apt_install chromium fonts-liberation  # fonts: otherwise screenshots show no text (recommends are off)
  note "chromium: installed with apt"
else
  echo "SKIPPED: /usr/bin/chromium is missing and apt-get cannot be run (not root, no password-less sudo)."
  echo "  The browser test will fail until you run: apt-get install chromium (or set VILAVT_SKIP_BROWSER=1)."
  note "chromium: MISSING (not installed: no root/apt)"
fi

# Xvfb: `vilavt app` opens a real (not headless) Chromium window; its test runs it on a virtual X display.
if command -v Xvfb >/dev/null 2>&1; then
  echo "found Xvfb"
  note "xvfb: already installed"
elif [ "$CAN_APT" -eq 1 ]; then
  echo "installing xvfb"
  apt_install xvfb
  note "xvfb: installed with apt"
else
  echo "SKIPPED: Xvfb is missing and apt-get cannot be run; the app window test will fail until you run: apt-get install xvfb"
  note "xvfb: MISSING (not installed: no root/apt)"
fi

# --- 3./4. WebGPU adapter for Dawn in Node ------------------------------------------------------------
probe() { node scripts/probe-adapter.mjs > "$PROBE_OUT" 2> "$PROBE_ERR"; }
PROBE_OUT=$(mktemp); PROBE_ERR=$(mktemp)
trap 'rm -f "$PROBE_OUT" "$PROBE_ERR"' EXIT
adapter_line() { node -e 'const a=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
  console.log(`${a.vendor}/${a.architecture} "${a.description}" f16=${a.features.includes("shader-f16")} subgroups=${a.features.includes("subgroups")}`)' "$PROBE_OUT"; }

step "WebGPU adapter (Dawn)"
if probe; then
  cat "$PROBE_OUT"
  note "adapter: $(adapter_line) (nothing installed)"
else
  cat "$PROBE_OUT"; sed 's/^/  dawn: /' "$PROBE_ERR"
  echo "no adapter: installing Mesa lavapipe (software Vulkan). Dawn needs Mesa >= 24; bookworm has 22.3."
  [ "$CAN_APT" -eq 1 ] || die "no WebGPU adapter and apt-get cannot be run here (not root, no password-less sudo).
  As root run: add bookworm-backports to apt sources, then apt-get install -t bookworm-backports mesa-vulkan-drivers"
  if [ "$CODENAME" = bookworm ]; then
    if ! grep -rqs --include='*.list' --include='*.sources' -E '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "adding /etc/apt/sources.list.d/bookworm-backports.sources"
      printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' 'Components: main' \
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
        | "${AS_ROOT[@]}" tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
      APT_UPDATED=0
      note "apt: added bookworm-backports source"
    fi
    apt_install -t bookworm-backports mesa-vulkan-drivers
  else
    apt_install mesa-vulkan-drivers  # newer Debian releases already ship a recent Mesa
  fi
  note "mesa-vulkan-drivers: installed $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo '?')"
  if probe; then
    cat "$PROBE_OUT"
    note "adapter: $(adapter_line)"
  else
    cat "$PROBE_OUT"; sed 's/^/  dawn: /' "$PROBE_ERR"
    hint=""
    for v in VK_ICD_FILENAMES VK_DRIVER_FILES VK_ADD_DRIVER_FILES; do
      [ -z "${!v:-}" ] || hint="$hint $v=${!v} is set and restricts the Vulkan loader's drivers;"
    done
    die "still no WebGPU adapter after installing lavapipe.$hint Check: ls /usr/share/vulkan/icd.d/ (expect lvp_icd.json) and 'vulkaninfo --summary' (package vulkan-tools)."
  fi
fi

# --- 5. optional: lavapipe inside Chromium (shader-f16 in the browser) ---------------------------------
if [ "$WITH_LVP_CHROMIUM" -eq 1 ]; then
  step "lavapipe in Chromium (.chromium-lvp)"
  [ -d /usr/lib/chromium ] || die "--with-lavapipe-chromium needs Debian's chromium (/usr/lib/chromium)."
  if ! command -v gcc >/dev/null 2>&1 || [ ! -f /usr/include/vulkan/vk_layer.h ]; then
    [ "$CAN_APT" -eq 1 ] || die "--with-lavapipe-chromium needs gcc and libvulkan-dev (apt-get install gcc libvulkan-dev)."
    apt_install gcc libc6-dev libvulkan-dev
    note "apt: installed gcc libvulkan-dev"
  fi
  sh tools/chromium-lavapipe/setup-chromium-lavapipe.sh .chromium-lvp
  echo "built $ROOT/.chromium-lvp (the browser test runs an extra shader-f16 case when it exists)"
  note "chromium-lavapipe: built .chromium-lvp"
fi

# --- summary ------------------------------------------------------------------------------------------
printf '\n== setup: summary\n'
for line in "${SUMMARY[@]}"; do echo "  - $line"; done
