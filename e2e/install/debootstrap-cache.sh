#!/usr/bin/env bash
# Prints the path of a tarball of a minimal Debian bookworm (debootstrap --variant=minbase), made once
# and kept in /var/cache/shoal-test-debootstrap so later test runs unpack it in seconds. Uses the
# machine's own Debian mirror (from /etc/apt). Exit 2 when debootstrap is missing, 3 when it failed
# (no mirror reachable): the caller skips with the reason printed on stderr.
set -euo pipefail
CACHE=${SHOAL_DEBOOTSTRAP_CACHE:-/var/cache/shoal-test-debootstrap}
SUITE=bookworm
TARBALL="$CACHE/$SUITE-minbase.tar"
if [ -s "$TARBALL" ]; then echo "$TARBALL"; exit 0; fi
command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }
MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if ! debootstrap --variant=minbase "$SUITE" "$WORK/root" "$MIRROR" >"$WORK/log" 2>&1; then
  echo "debootstrap $SUITE from $MIRROR failed: $(tail -n 3 "$WORK/log" | tr '\n' ' ')" >&2
  exit 3
fi
# Package caches are not needed inside the image.
rm -rf "$WORK/root/var/cache/apt/archives/"*.deb
tar -C "$WORK/root" -cf "$WORK/image.tar" .
mv "$WORK/image.tar" "$TARBALL"
echo "$TARBALL"
