#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as independent WBXML oracles
# (test/oracle/*.test.ts, reference wbxml-oracle.md):
#   libwbxml2-utils  xml2wbxml, wbxml2xml   (CSP 1.1/1.2)
#   tshark           tshark, text2pcap      (CSP 1.1-1.3)
# and the XMPP server the s2s federation tests talk to (test/support/prosody.ts):
#   prosody          prosody, prosodyctl    (Prosody 0.12, hosting xmpp.test)
#   lua-unbound      (a library)            Prosody's DNS resolver, which the tests point at
#                                           local data for imps.test
# Only what is missing is installed; with everything present this does nothing.
# Usage: bash test/install-peers.sh && npm ci && npm test
set -euo pipefail

declare -A package_of=(
  [xml2wbxml]=libwbxml2-utils
  [wbxml2xml]=libwbxml2-utils
  [tshark]=tshark
  [text2pcap]=tshark
  [prosody]=prosody
  [prosodyctl]=prosody
)
tools=(xml2wbxml wbxml2xml tshark text2pcap prosody prosodyctl)

missing=()
for tool in "${tools[@]}"; do
  if command -v "$tool" >/dev/null 2>&1; then
    echo "install-peers: $tool is present ($(command -v "$tool"))"
  else
    package=${package_of[$tool]}
    echo "install-peers: $tool is missing (package $package)"
    if [[ " ${missing[*]-} " != *" $package "* ]]; then missing+=("$package"); fi
  fi
done

# Without lua-unbound Prosody falls back to a resolver that ignores the tests' DNS settings.
# It is only a Recommends of prosody (which apt can be told to skip), so it is checked by name.
if command -v dpkg-query >/dev/null 2>&1; then
  if dpkg-query -W -f='${Status}' lua-unbound 2>/dev/null | grep -q 'ok installed'; then
    echo "install-peers: lua-unbound is present"
  else
    echo "install-peers: lua-unbound is missing (package lua-unbound)"
    missing+=(lua-unbound)
  fi
fi

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
# prosody's postinst enables and starts the system service (/etc/prosody/prosody.cfg.lua, user
# prosody, ports 5222/5269) where init scripts may run; in containers whose policy-rc.d says no
# ("policy-rc.d denied execution of start") nothing starts. Either way it is left alone: the
# tests never use it, and their own Prosody instances have their own config, data dir, pid file
# and ports (kernel-assigned ephemeral ports on 127.0.0.1, never 5222/5269), so it cannot clash.
echo "install-peers: ${prefix}DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" || fail "apt-get install -y ${missing[*]} failed"

for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is still missing after installing ${missing[*]}"
done
if command -v dpkg-query >/dev/null 2>&1; then
  dpkg-query -W -f='${Status}' lua-unbound 2>/dev/null | grep -q 'ok installed' || fail "lua-unbound is still missing after installing ${missing[*]}"
fi
echo "install-peers: installed ${missing[*]}"
