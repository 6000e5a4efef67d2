#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as independent WBXML oracles
# (test/oracle/*.test.ts, reference wbxml-oracle.md):
#   libwbxml2-utils  xml2wbxml, wbxml2xml   (CSP 1.1/1.2)
#   tshark           tshark, text2pcap      (CSP 1.1-1.3)
# Only what is missing is installed; with everything present this does nothing.
# Usage: bash test/install-peers.sh && npm ci && npm test
set -euo pipefail

declare -A package_of=(
  [xml2wbxml]=libwbxml2-utils
  [wbxml2xml]=libwbxml2-utils
  [tshark]=tshark
  [text2pcap]=tshark
)

missing=()
for tool in xml2wbxml wbxml2xml tshark text2pcap; do
  if command -v "$tool" >/dev/null 2>&1; then
    echo "install-peers: $tool is present ($(command -v "$tool"))"
  else
    package=${package_of[$tool]}
    echo "install-peers: $tool is missing (package $package)"
    if [[ " ${missing[*]-} " != *" $package "* ]]; then missing+=("$package"); fi
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-peers: nothing to install"
  exit 0
fi

fail() {
  echo "install-peers: ERROR: $*" >&2
  echo "install-peers: install them by hand: apt-get install -y ${missing[*]}" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found: this script installs Debian/Ubuntu packages (${missing[*]})"

if [[ $(id -u) -eq 0 ]]; then
  as_root() { "$@"; }
  prefix=""
elif command -v sudo >/dev/null 2>&1; then
  as_root() { sudo "$@"; }
  prefix="sudo "
else
  fail "not root and sudo is not available, cannot install ${missing[*]}"
fi

echo "install-peers: ${prefix}apt-get update"
as_root apt-get update || fail "apt-get update failed"

# tshark asks a debconf question (may non-root users capture?): answer it non-interactively.
echo "install-peers: ${prefix}DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" || fail "apt-get install -y ${missing[*]} failed"

for tool in xml2wbxml wbxml2xml tshark text2pcap; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is still missing after installing ${missing[*]}"
done
echo "install-peers: installed ${missing[*]}"
