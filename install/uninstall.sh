#!/usr/bin/env bash
# Removes what install.sh installed: the service, the application, the launcher and the docs.
# Keeps the configuration (/etc/shoal.d), the state (/var/lib/shoal: node ID, keyring) and the shoal
# user, so a later install.sh picks up where this one left off, unless --purge.
#
#   uninstall.sh [--root DIR] [--purge]
#
#   --root DIR  remove from a tree made by `install.sh --root DIR` (no systemctl, no userdel on the
#               host; the user's lines are removed from DIR/etc/passwd and DIR/etc/group on --purge)
#   --purge     also remove /etc/shoal.d, /var/lib/shoal and the shoal user and group
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ROOT=
PURGE=
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || die "run as root"
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such directory"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != / ] || ROOT=
fi

UNIT=$ROOT/etc/systemd/system/shoal.service
if [ -z "$ROOT" ] && [ -d /run/systemd/system ] && [ -e "$UNIT" ]; then
  # Stopping sends SIGTERM: the agent leaves the cluster gracefully before it exits.
  systemctl disable --now shoal.service || true
fi
rm -f "$UNIT"
rm -rf "$ROOT$SHOAL_APP_DIR" "$ROOT$SHOAL_APP_DIR.new" "$ROOT$SHOAL_APP_DIR.old" "$ROOT$SHOAL_DOC_DIR"
rm -f "$ROOT$SHOAL_LAUNCHER" "$ROOT/usr/share/man/man1/shoal.1.gz"
if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

if [ -z "$PURGE" ]; then
  echo "removed shoal; kept $SHOAL_CONF_DIR, $SHOAL_DATA_DIR and the $SHOAL_USER user (--purge removes them)"
  exit 0
fi
rm -rf "$ROOT$SHOAL_CONF_DIR" "$ROOT$SHOAL_DATA_DIR"
if [ -n "$ROOT" ]; then
  for f in passwd shadow; do
    [ ! -e "$ROOT/etc/$f" ] || sed -i "/^$SHOAL_USER:/d" "$ROOT/etc/$f"
  done
  for f in group gshadow; do
    [ ! -e "$ROOT/etc/$f" ] || sed -i "/^$SHOAL_GROUP:/d" "$ROOT/etc/$f"
  done
elif getent passwd "$SHOAL_USER" >/dev/null; then
  userdel "$SHOAL_USER"
  ! getent group "$SHOAL_GROUP" >/dev/null || groupdel "$SHOAL_GROUP"
fi
echo "removed shoal, its configuration, its state and the $SHOAL_USER user"
