#!/usr/bin/env bash
# Installs the Shoal agent on a VM as a systemd service, from a built checkout (npm ci && npm run
# build). Idempotent: running it again with the same options changes nothing; with other options it
# rewrites only what those options set. See install/README.md.
#
#   install.sh [--root DIR] [--join ADDR]... [--datacenter NAME] [--server]
#              [--encrypt-file PATH] [--ca-token-file PATH]
#
#   --root DIR           install into DIR as if it were / (image building, tests): nothing on the
#                        host is touched, no systemctl; the shoal user is recorded in DIR/etc/passwd
#                        and DIR/etc/group (created if missing) and files are owned by its uid/gid.
#   --join ADDR          a retry_join seed, host or host:port (repeatable)
#   --datacenter NAME    cluster name (default dc1)
#   --server             run as a server (holds CA material, joins the WAN pool)
#   --encrypt-file PATH  file holding the gossip key (base64); written to /etc/shoal.d/encrypt.hcl
#   --ca-token-file PATH file holding the CA bootstrap token; written to /etc/shoal.d/ca-bootstrap-token
#
# Secrets are read from files, never taken on the command line (where `ps` would show them), never
# printed, and written 0640 root:shoal.
set -euo pipefail
umask 022
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  sed -n '2,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit "${1:-0}"
}

ROOT=
JOINS=()
DATACENTER=
SERVER=
ENCRYPT_FILE=
CA_TOKEN_FILE=
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --join) JOINS+=("${2:?--join needs an address}"); shift 2 ;;
    --datacenter) DATACENTER=${2:?--datacenter needs a name}; shift 2 ;;
    --server) SERVER=true; shift ;;
    --encrypt-file) ENCRYPT_FILE=${2:?--encrypt-file needs a path}; shift 2 ;;
    --ca-token-file) CA_TOKEN_FILE=${2:?--ca-token-file needs a path}; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run as root (it creates a system user and root-owned files)"
require_built_tree

# ---- validate every option before touching anything ----
problems=()
if [ -n "$DATACENTER" ] && ! [[ $DATACENTER =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ ]]; then
  problems+=("--datacenter $DATACENTER: expected 1-64 letters, digits, '-' or '_'")
fi
join_re='^[][A-Za-z0-9._:-]{1,253}$'
for j in "${JOINS[@]}"; do
  [[ $j =~ $join_re ]] || problems+=("--join $j: expected host or host:port")
done
ENCRYPT_KEY=
if [ -n "$ENCRYPT_FILE" ]; then
  if [ ! -r "$ENCRYPT_FILE" ]; then
    problems+=("--encrypt-file $ENCRYPT_FILE: cannot read it")
  else
    ENCRYPT_KEY=$(tr -d '[:space:]' <"$ENCRYPT_FILE")
    bytes=$(printf '%s' "$ENCRYPT_KEY" | base64 -d 2>/dev/null | wc -c || true)
    if ! [[ $ENCRYPT_KEY =~ ^[A-Za-z0-9+/]+={0,2}$ ]] || [ $(( ${#ENCRYPT_KEY} % 4 )) != 0 ] || ! [[ $bytes =~ ^(16|24|32)$ ]]; then
      problems+=("--encrypt-file $ENCRYPT_FILE: expected a base64 key of 16, 24 or 32 bytes (shoal keygen prints one)")
    fi
  fi
fi
CA_TOKEN=
if [ -n "$CA_TOKEN_FILE" ]; then
  if [ ! -r "$CA_TOKEN_FILE" ]; then
    problems+=("--ca-token-file $CA_TOKEN_FILE: cannot read it")
  else
    CA_TOKEN=$(tr -d '\r\n' <"$CA_TOKEN_FILE")
    [[ $CA_TOKEN =~ ^[[:graph:]]{1,4096}$ ]] || problems+=("--ca-token-file $CA_TOKEN_FILE: expected one line of 1-4096 printable characters")
  fi
fi
if [ -z "$ROOT" ]; then
  major=$(node_major)
  [ -n "$major" ] && [ "$major" -ge 20 ] || problems+=("Node.js 20 or newer must be installed as 'node' on PATH (found: ${major:-none})")
  if dpkg-query -W -f='${Status}' shoal 2>/dev/null | grep -q 'install ok installed'; then
    problems+=("the shoal Debian package is installed: upgrade it with apt or dpkg instead")
  fi
fi
if [ ${#problems[@]} -gt 0 ]; then
  printf 'install.sh: %s\n' "${problems[@]}" >&2
  exit 2
fi

if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != / ] || ROOT=
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CHANGED=0

# put_file MODE OWNER GROUP DEST: installs stdin as DEST, only when the content differs; mode and
# owner are set every time. Sets CHANGED when the content changed.
put_file() {
  local mode=$1 owner=$2 group=$3 dest=$4 tmp
  tmp=$(mktemp "$TMP/file.XXXXXX")
  cat >"$tmp"
  mkdir -p "$(dirname "$dest")"
  if ! cmp -s "$tmp" "$dest" 2>/dev/null; then
    install -m "$mode" -o "$owner" -g "$group" "$tmp" "$dest"
    CHANGED=1
  fi
  chown "$owner:$group" "$dest"
  chmod "$mode" "$dest"
}

put_dir() {
  local mode=$1 owner=$2 group=$3 dir=$4
  mkdir -p "$dir"
  chown "$owner:$group" "$dir"
  chmod "$mode" "$dir"
}

# ---- the shoal system user ----
# first_free_id FILE1 FILE2: the lowest id from 100 to 999 that no entry of either file uses (the
# third field of passwd and group lines alike), so the user and its group can share one number.
first_free_id() {
  local id
  for id in $(seq 100 999); do
    if ! cut -d: -f3 "$1" "$2" 2>/dev/null | grep -qx "$id"; then echo "$id"; return; fi
  done
  die "no free system id in 100-999 in $1"
}

ensure_user_in_root() {
  local etc=$ROOT/etc id
  mkdir -p "$etc"
  [ -e "$etc/passwd" ] || install -m 0644 /dev/null "$etc/passwd"
  [ -e "$etc/group" ] || install -m 0644 /dev/null "$etc/group"
  if ! grep -q "^$SHOAL_GROUP:" "$etc/group"; then
    id=$(first_free_id "$etc/group" "$etc/passwd")
    echo "$SHOAL_GROUP:x:$id:" >>"$etc/group"
    [ ! -e "$etc/gshadow" ] || echo "$SHOAL_GROUP:!::" >>"$etc/gshadow"
  fi
  SHOAL_GID=$(grep "^$SHOAL_GROUP:" "$etc/group" | cut -d: -f3)
  if ! grep -q "^$SHOAL_USER:" "$etc/passwd"; then
    id=$SHOAL_GID
    if cut -d: -f3 "$etc/passwd" | grep -qx "$id"; then id=$(first_free_id "$etc/passwd" /dev/null); fi
    echo "$SHOAL_USER:x:$id:$SHOAL_GID:Shoal service mesh agent:$SHOAL_DATA_DIR:/usr/sbin/nologin" >>"$etc/passwd"
    [ ! -e "$etc/shadow" ] || echo "$SHOAL_USER:!*:::::::" >>"$etc/shadow"
  fi
  SHOAL_UID=$(grep "^$SHOAL_USER:" "$etc/passwd" | cut -d: -f3)
}

ensure_user_on_host() {
  if ! getent passwd "$SHOAL_USER" >/dev/null; then
    useradd --system --user-group --home-dir "$SHOAL_DATA_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "Shoal service mesh agent" "$SHOAL_USER"
    echo "created system user $SHOAL_USER"
  fi
  SHOAL_UID=$(id -u "$SHOAL_USER")
  SHOAL_GID=$(getent group "$SHOAL_GROUP" | cut -d: -f3)
}

if [ -n "$ROOT" ]; then ensure_user_in_root; else ensure_user_on_host; fi

# ---- the application in /opt/shoal, replaced as a whole when it changed ----
# Staged next to the old one (same file system, so the swap is two renames), kept only if different.
APP=$ROOT$SHOAL_APP_DIR
mkdir -p "$(dirname "$APP")"
rm -rf "$APP.new" "$APP.old"
stage_app "$APP.new"
if diff -r -q "$APP.new" "$APP" >/dev/null 2>&1; then
  rm -rf "$APP.new"
else
  [ ! -e "$APP" ] || mv "$APP" "$APP.old"
  mv "$APP.new" "$APP"
  rm -rf "$APP.old"
  CHANGED=1
fi
chown -R 0:0 "$APP"
chmod -R u=rwX,go=rX "$APP"

write_launcher "$TMP/launcher"
put_file 0755 0 0 "$ROOT$SHOAL_LAUNCHER" <"$TMP/launcher"
put_file 0644 0 0 "$ROOT/etc/systemd/system/shoal.service" <"$SHOAL_SRC/install/systemd/shoal.service"
put_file 0644 0 0 "$ROOT$SHOAL_DOC_DIR/README.install.md" <"$SHOAL_SRC/install/README.md"
put_file 0644 0 0 "$ROOT$SHOAL_DOC_DIR/examples/agent.hcl" <"$SHOAL_SRC/install/examples/agent.hcl"
put_file 0644 0 0 "$ROOT$SHOAL_DOC_DIR/examples/web.hcl" <"$SHOAL_SRC/install/examples/web.hcl"
gzip -9n <"$SHOAL_SRC/install/shoal.1" >"$TMP/shoal.1.gz"
put_file 0644 0 0 "$ROOT/usr/share/man/man1/shoal.1.gz" <"$TMP/shoal.1.gz"

# ---- configuration and state ----
put_dir 0750 0 "$SHOAL_GID" "$ROOT$SHOAL_CONF_DIR"
put_dir 0700 "$SHOAL_UID" "$SHOAL_GID" "$ROOT$SHOAL_DATA_DIR"

CONF=$ROOT$SHOAL_CONF_DIR/agent.hcl
agent_hcl "${DATACENTER:-dc1}" "${SERVER:-false}" "${JOINS[@]}" >"$TMP/agent.hcl"
if [ ! -e "$CONF" ] || { [ -n "$DATACENTER$SERVER" ] || [ ${#JOINS[@]} -gt 0 ]; }; then
  if [ -e "$CONF" ] && ! cmp -s "$TMP/agent.hcl" "$CONF"; then
    cp -p "$CONF" "$CONF.bak"
    echo "rewrote $SHOAL_CONF_DIR/agent.hcl from the options; the previous one is agent.hcl.bak"
  fi
  put_file 0640 0 "$SHOAL_GID" "$CONF" <"$TMP/agent.hcl"
else
  chown "0:$SHOAL_GID" "$CONF"
  chmod 0640 "$CONF"
fi

# Secrets: written through a private temporary file, never through a command line.
# ($TMP is private to root: mktemp -d makes it 0700.)
if [ -n "$ENCRYPT_FILE" ]; then
  printf '# Gossip encryption key (seeds the keyring in %s on first start).\nencrypt = "%s"\n' "$SHOAL_DATA_DIR" "$ENCRYPT_KEY" >"$TMP/encrypt.hcl"
  put_file 0640 0 "$SHOAL_GID" "$ROOT$SHOAL_CONF_DIR/encrypt.hcl" <"$TMP/encrypt.hcl"
fi
if [ -n "$CA_TOKEN_FILE" ]; then
  # Not an .hcl file: the agent has no setting for it yet (the CA lands later) and refuses unknown
  # keys; the CA configuration will name this file rather than carry the token inline.
  printf '%s\n' "$CA_TOKEN" >"$TMP/ca-bootstrap-token"
  put_file 0640 0 "$SHOAL_GID" "$ROOT$SHOAL_CONF_DIR/ca-bootstrap-token" <"$TMP/ca-bootstrap-token"
fi
ENCRYPT_KEY=
CA_TOKEN=

# ---- systemd ----
if [ -n "$ROOT" ]; then
  echo "installed into $ROOT (user $SHOAL_USER is uid $SHOAL_UID in $ROOT/etc/passwd). In the target system, run:"
  echo "  systemctl daemon-reload && systemctl enable --now shoal"
elif [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable shoal.service
  if [ "$CHANGED" = 1 ]; then systemctl restart shoal.service; else systemctl start shoal.service; fi
  echo "shoal is enabled and running: systemctl status shoal; journalctl -u shoal"
else
  echo "installed; systemd is not running here, so start it by hand once it is:"
  echo "  systemctl daemon-reload && systemctl enable --now shoal"
fi
