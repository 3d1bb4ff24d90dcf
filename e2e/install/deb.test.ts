/**
 * The Debian package (root only): built by install/debian/build-deb.sh, clean under lintian (with the
 * documented overrides), then installed, removed and purged with dpkg inside a minimal Debian
 * bookworm made by debootstrap (cached in /var/cache/shoal-test-debootstrap). Node 20 is not in that
 * image, so dpkg -i runs with --force-depends; postinst must then warn about it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const ROOT_DIR = join(__dirname, '..', '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'shoal-deb-'));
const chroot = join(tmp, 'debian');
let deb = '';

const missing = ['dpkg-deb', 'tar'].filter((c) => spawnSync(c, ['--version']).error !== undefined);
const skip = process.getuid?.() !== 0 ? 'needs root (chroot, dpkg in the image)' : missing.length > 0 ? `needs ${missing.join(', ')}` : false;

/** Runs a command at low CPU priority (xz, lintian and tar are heavy; other suites run alongside with timing checks). */
function sh(cmd: string, args: string[], timeout = 180_000): { code: number | null; out: string; stdout: string } {
  const r = spawnSync('nice', ['-n', '10', cmd, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

before(() => {
  if (skip) return;
  const r = sh('bash', [join(ROOT_DIR, 'install/debian/build-deb.sh'), '--out', tmp]);
  assert.equal(r.code, 0, r.out);
  deb = r.stdout.trim().split('\n').pop()!;
});

after(() => rmSync(tmp, { recursive: true, force: true }));

test('the package is named and described as documented', { skip }, () => {
  const version = (JSON.parse(readFileSync(join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(basename(deb), `shoal_${version}-1_all.deb`);
  const info = sh('dpkg-deb', ['--field', deb, 'Package', 'Architecture', 'Depends']).stdout;
  assert.match(info, /^Package: shoal$/m);
  assert.match(info, /^Architecture: all$/m);
  assert.match(info, /^Depends: nodejs \(>= 20\)/m);
  assert.equal(sh('dpkg-deb', ['--info', deb, 'conffiles']).stdout, '/etc/shoal.d/agent.hcl\n');
  const listing = sh('dpkg-deb', ['--contents', deb]).stdout;
  assert.match(listing, /^-rwxr-xr-x root\/root .* \.\/usr\/bin\/shoal$/m);
  assert.match(listing, /^drwxr-x--- root\/root .* \.\/etc\/shoal\.d\/$/m);
  assert.doesNotMatch(listing, /node_modules\/(typescript|eslint|fast-check)\//, 'no dev dependencies');
  assert.doesNotMatch(listing, /etc\/shoal\.d\/web\.hcl/, 'the service example is documentation, not configuration');
});

test('lintian is clean, informational tags included (documented overrides apart)', {
  skip: skip || (spawnSync('lintian', ['--version']).error ? 'needs lintian (apt-get install lintian)' : false), timeout: 180_000,
}, () => {
  const r = sh('lintian', ['--tag-display-limit', '0', '--display-info', deb]);
  const tags = r.out.split('\n').filter((l) => /^[EWIX]: /.test(l));
  assert.deepEqual(tags, []);
  assert.equal(r.code, 0, r.out);
});

test('dpkg installs, removes and purges it in a minimal Debian', { skip, timeout: 420_000 }, (t) => {
  const image = sh('bash', [join(ROOT_DIR, 'e2e/install/debootstrap-cache.sh')], 400_000);
  if (image.code !== 0) {
    t.skip(`no Debian image: ${image.out.trim() || `debootstrap-cache.sh exited ${image.code}`}`);
    return;
  }
  mkdirSync(chroot);
  assert.equal(sh('tar', ['-C', chroot, '-xf', image.stdout.trim()]).code, 0);
  copyFileSync(deb, join(chroot, 'tmp/shoal.deb'));
  const inChroot = (...args: string[]): { code: number | null; out: string; stdout: string } => sh('chroot', [chroot, ...args]);

  const install = inChroot('dpkg', '-i', '--force-depends', '/tmp/shoal.deb');
  assert.equal(install.code, 0, install.out);
  assert.match(install.out, /Node\.js 20 or newer is needed as 'node' on PATH \(found: none\)/);

  const passwd = readFileSync(join(chroot, 'etc/passwd'), 'utf8');
  const user = /^shoal:x:(\d+):(\d+):[^:]*:\/var\/lib\/shoal:\/usr\/sbin\/nologin$/m.exec(passwd);
  assert.ok(user !== null, 'the shoal system user exists');
  const [uid, gid] = [Number(user[1]), Number(user[2])];
  assert.ok(uid < 1000, `a system uid (${uid})`);
  const mode = (p: string): string => {
    const st = lstatSync(join(chroot, p));
    return `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
  };
  assert.equal(mode('etc/shoal.d'), `750 0:${gid}`);
  assert.equal(mode('etc/shoal.d/agent.hcl'), `640 0:${gid}`);
  assert.equal(mode('var/lib/shoal'), `700 ${uid}:${gid}`);
  assert.equal(mode('usr/bin/shoal'), '755 0:0');
  assert.ok(existsSync(join(chroot, 'opt/shoal/dist/agent/src/cli/main.js')));
  assert.equal(readFileSync(join(chroot, 'lib/systemd/system/shoal.service'), 'utf8'), readFileSync(join(ROOT_DIR, 'install/systemd/shoal.service'), 'utf8'));
  assert.equal(readlinkSync(join(chroot, 'etc/systemd/system/multi-user.target.wants/shoal.service')), '/lib/systemd/system/shoal.service', 'enabled');
  assert.equal(inChroot('dpkg', '--verify', 'shoal').out, '', 'every file matches the md5sums');
  assert.match(inChroot('dpkg-query', '-W', '-f=${Status}|${Conffiles}', 'shoal').stdout, /^install ok installed\| \/etc\/shoal\.d\/agent\.hcl [0-9a-f]{32}/);

  const remove = inChroot('dpkg', '-r', 'shoal');
  assert.equal(remove.code, 0, remove.out);
  assert.ok(!existsSync(join(chroot, 'opt/shoal')) && !existsSync(join(chroot, 'usr/bin/shoal')));
  assert.ok(existsSync(join(chroot, 'etc/shoal.d/agent.hcl')) && existsSync(join(chroot, 'var/lib/shoal')), 'removal keeps configuration and state');

  const purge = inChroot('dpkg', '-P', 'shoal');
  assert.equal(purge.code, 0, purge.out);
  assert.ok(!existsSync(join(chroot, 'etc/shoal.d')) && !existsSync(join(chroot, 'var/lib/shoal')), 'purge removes configuration and state');
  assert.ok(!existsSync(join(chroot, 'etc/systemd/system/multi-user.target.wants/shoal.service')), 'purge forgets the enablement');
  assert.match(readFileSync(join(chroot, 'etc/passwd'), 'utf8'), /^shoal:/m, 'the system user stays (Debian practice)');
});
