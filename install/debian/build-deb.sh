#!/usr/bin/env bash
# Builds dist/shoal_<version>-1_all.deb from a built checkout (`npm run package:deb` builds first);
# `--out DIR` puts it in DIR instead.
# Same layout as install.sh: the application in /opt/shoal, /usr/bin/shoal, /etc/shoal.d/agent.hcl (a
# conffile), the unit in /lib/systemd/system; postinst creates the shoal user and /var/lib/shoal.
# Architecture "all": the production dependencies are plain JavaScript and WebAssembly, no native
# code. Reproducible: timestamps come from SOURCE_DATE_EPOCH (default: the last commit's time).
# Prints the path of the package.
set -euo pipefail
umask 022
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_built_tree
command -v dpkg-deb >/dev/null || die "dpkg-deb is needed (apt-get install dpkg)"

HERE=$SHOAL_SRC/install/debian
VERSION="$(shoal_version)-1"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$SHOAL_SRC" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
OUT_DIR=$SHOAL_SRC/dist
if [ "${1:-}" = --out ]; then OUT_DIR=${2:?--out needs a directory}; fi
OUT=$OUT_DIR/shoal_${VERSION}_all.deb

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PKG=$WORK/pkg
mkdir -p "$PKG"

stage_app "$PKG$SHOAL_APP_DIR"
mkdir -p "$PKG/usr/bin" "$PKG/lib/systemd/system" "$PKG$SHOAL_CONF_DIR" "$PKG$SHOAL_DOC_DIR/examples" "$PKG/usr/share/lintian/overrides" "$PKG/DEBIAN"
write_launcher "$PKG$SHOAL_LAUNCHER"
chmod 0755 "$PKG$SHOAL_LAUNCHER"
install -m 0644 "$SHOAL_SRC/install/systemd/shoal.service" "$PKG/lib/systemd/system/shoal.service"
# Not world-readable even between unpack and postinst: the file is where operators put settings.
agent_hcl dc1 false >"$PKG$SHOAL_CONF_DIR/agent.hcl"
chmod 0750 "$PKG$SHOAL_CONF_DIR"
chmod 0640 "$PKG$SHOAL_CONF_DIR/agent.hcl"
install -m 0644 "$SHOAL_SRC/install/README.md" "$PKG$SHOAL_DOC_DIR/README.install.md"
install -m 0644 "$SHOAL_SRC/install/examples/agent.hcl" "$SHOAL_SRC/install/examples/web.hcl" "$PKG$SHOAL_DOC_DIR/examples/"
install -m 0644 "$HERE/lintian-overrides" "$PKG/usr/share/lintian/overrides/shoal"
mkdir -p "$PKG/usr/share/man/man1"
gzip -9n <"$SHOAL_SRC/install/shoal.1" >"$PKG/usr/share/man/man1/shoal.1.gz"
chmod 0644 "$PKG/usr/share/man/man1/shoal.1.gz"

DATE=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
sed -e "s/@VERSION@/$VERSION/" -e "s/@DATE@/$DATE/" "$HERE/changelog" | gzip -9n >"$PKG$SHOAL_DOC_DIR/changelog.Debian.gz"
chmod 0644 "$PKG$SHOAL_DOC_DIR/changelog.Debian.gz"

# copyright: Shoal under MPL-2.0, then each bundled module with the licence its package.json states.
{
  cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: shoal
Comment: The Node.js modules under $SHOAL_APP_DIR/node_modules are bundled with their
 own licence files; each is listed below with the licence its package.json names.

Files: *
Copyright: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y) The Shoal authors
License: MPL-2.0
 On Debian systems the full text of the Mozilla Public License 2.0 is in
 /usr/share/common-licenses/MPL-2.0.
EOF
  (cd "$SHOAL_SRC" && node "$SHOAL_SRC/install/lib/prod-modules.js") | node -e '
    const [src, app] = process.argv.slice(1);
    const mods = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
    for (const mod of mods) {
      const p = require(`${src}/${mod}/package.json`);
      const lic = typeof p.license === "string" ? p.license : "see its licence file";
      process.stdout.write(`\nFiles: ${app}/${mod}/*\nCopyright: the authors of ${p.name} ${p.version}\nLicense: ${lic}\n`
        + " The full text is in the module directory (LICENSE or similar).\n");
    }' "$SHOAL_SRC" "${SHOAL_APP_DIR#/}"
} >"$PKG$SHOAL_DOC_DIR/copyright"
chmod 0644 "$PKG$SHOAL_DOC_DIR/copyright"

# Control area.
for s in postinst prerm postrm; do install -m 0755 "$HERE/$s" "$PKG/DEBIAN/$s"; done
echo "$SHOAL_CONF_DIR/agent.hcl" >"$PKG/DEBIAN/conffiles"
SIZE=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@INSTALLED_SIZE@/$SIZE/" "$HERE/control.in" >"$PKG/DEBIAN/control"
(cd "$PKG" && find . -path ./DEBIAN -prune -o -path ".$SHOAL_CONF_DIR" -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$PKG/DEBIAN/md5sums"
chmod 0644 "$PKG/DEBIAN/control" "$PKG/DEBIAN/conffiles" "$PKG/DEBIAN/md5sums"

find "$PKG" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$(dirname "$OUT")"
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$OUT" >/dev/null
echo "$OUT"
