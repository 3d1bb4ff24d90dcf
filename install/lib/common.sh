# shellcheck shell=bash disable=SC2034  # the layout variables are used by the scripts that source this
# Shared by install.sh, uninstall.sh and debian/build-deb.sh: the installed layout and how the
# application tree is staged. Sourced, not run.

# The layout, the same for install.sh and the Debian package (only the unit's directory differs).
SHOAL_APP_DIR=/opt/shoal
SHOAL_CONF_DIR=/etc/shoal.d
SHOAL_DATA_DIR=/var/lib/shoal
SHOAL_LAUNCHER=/usr/bin/shoal
SHOAL_DOC_DIR=/usr/share/doc/shoal
SHOAL_USER=shoal
SHOAL_GROUP=shoal

# The repository (or unpacked release) this script belongs to.
SHOAL_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

die() {
  echo "${0##*/}: $*" >&2
  exit 1
}

# Refuses to go on without a built tree: dist/ from `npm run build`, node_modules/ from `npm ci`.
require_built_tree() {
  [ -f "$SHOAL_SRC/dist/agent/src/cli/main.js" ] || die "$SHOAL_SRC/dist is missing: run 'npm ci && npm run build' first"
  [ -d "$SHOAL_SRC/node_modules" ] || die "$SHOAL_SRC/node_modules is missing: run 'npm ci' first"
  command -v node >/dev/null || die "node is needed to select the production modules"
}

# The package version from package.json.
shoal_version() {
  node -p 'require(process.argv[1]).version' "$SHOAL_SRC/package.json"
}

# stage_app DEST: builds the application tree in DEST (which must not exist): package.json,
# package-lock.json, the compiled runtime code (dist/<part>/src, without tests or source maps) and the
# production node_modules only. Files end up root-owned, 0644 (0755 when executable), dirs 0755.
stage_app() {
  local dest=$1 part
  [ ! -e "$dest" ] || die "internal error: $dest exists"
  mkdir -p "$dest/dist" "$dest/node_modules"
  cp "$SHOAL_SRC/package.json" "$SHOAL_SRC/package-lock.json" "$dest/"
  for part in "$SHOAL_SRC"/dist/*/src; do
    [ -d "$part" ] || continue
    mkdir -p "$dest/dist/$(basename "$(dirname "$part")")"
    cp -R "$part" "$dest/dist/$(basename "$(dirname "$part")")/"
  done
  find "$dest/dist" -name '*.map' -type f -delete
  (cd "$SHOAL_SRC" && node "$SHOAL_SRC/install/lib/prod-modules.js") | while IFS= read -r mod; do
    mkdir -p "$dest/$(dirname "$mod")"
    cp -R "$SHOAL_SRC/$mod" "$dest/$mod"
  done
  # Not needed at run time: npm's .bin links and the modules' repository and tooling dotfiles, and
  # HTML pages (documentation and browser examples; pino's loads scripts from CDNs). Executable bits
  # stay only on real scripts.
  find "$dest/node_modules" -name '.*' -prune -exec rm -rf {} +
  find "$dest/node_modules" -name '*.html' -type f -delete
  find "$dest/node_modules" -type f -perm /111 -print0 | while IFS= read -r -d '' f; do
    [ "$(head -c 2 "$f")" = '#!' ] || chmod a-x "$f"
  done
  chmod 0755 "$dest/dist/agent/src/cli/main.js"
  chown -R 0:0 "$dest"
  chmod -R u=rwX,go=rX "$dest"
}

# write_launcher FILE: the `shoal` command. exec keeps the PID, so systemd's MAINPID (and
# WATCHDOG_PID) name the agent process itself.
write_launcher() {
  cat >"$1" <<EOF
#!/bin/sh
# Shoal command-line launcher. The application lives in $SHOAL_APP_DIR and needs Node.js 20 or
# newer as \`node\` on PATH (or set SHOAL_NODE to the node binary to use).
exec "\${SHOAL_NODE:-node}" $SHOAL_APP_DIR/dist/agent/src/cli/main.js "\$@"
EOF
}

# node_major: prints the major version of `node` on PATH, or nothing.
node_major() {
  if command -v node >/dev/null; then node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true; fi
}

# agent_hcl DATACENTER SERVER [SEED...]: the agent.hcl that install.sh writes and the Debian package
# ships (with dc1, false and no seeds).
agent_hcl() {
  local datacenter=$1 server=$2 seeds="" j
  shift 2
  for j in "$@"; do seeds+="${seeds:+, }\"$j\""; done
  cat <<EOF
# Shoal agent configuration. Every *.hcl and *.json file in $SHOAL_CONF_DIR is read, in name order;
# later files override earlier ones. Examples: $SHOAL_DOC_DIR/examples/.
# install.sh writes this file; running it again with --join, --datacenter or --server rewrites it
# (keeping the previous one as agent.hcl.bak). Otherwise edit it freely, then: systemctl restart shoal
datacenter = "$datacenter"
data_dir   = "$SHOAL_DATA_DIR"
server     = $server
EOF
  if [ -n "$seeds" ]; then
    echo "retry_join = [$seeds]"
  else
    echo '# retry_join = ["10.0.0.10", "10.0.0.11"]'
  fi
}
