#!/usr/bin/env bash
# apt-need.sh PKG:FILE...  installs each Debian package whose FILE is missing.
# Used by `make deps` so a fresh machine needs no manual step.
set -euo pipefail
missing=()
for spec in "$@"; do
  pkg=${spec%%:*} file=${spec#*:}
  [ -e "$file" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "apt-need: missing ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "apt-need: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
