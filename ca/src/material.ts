/**
 * CA material on disk: `<name>.pem` (certificate, 0644) and `<name>-key.pem` (private key, 0600) in
 * one directory. Writes are atomic (temporary file in the same directory, fsync, then rename or link,
 * then fsync of the directory), so a crash leaves either the old file or the new one, never half a
 * key. Without `force`, existing files are never replaced: the final step is link(2), which fails if
 * the name exists, so two concurrent `shoal ca init` cannot both win.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseCert, type CertAndKey } from './authority';
import { CaError, CaLocalErrorCode } from './errors';
import { privateKeyObject } from './keys';

/** File modes: the key is readable by its owner only; the certificate is public. */
export const KEY_FILE_MODE = 0o600;
export const CERT_FILE_MODE = 0o644;
/** Refuse larger files: a certificate or key PEM is a few hundred bytes; a chain a few KiB. */
const MAX_MATERIAL_BYTES = 64 * 1024;

/** Paths `writeMaterial` wrote. */
export interface MaterialPaths {
  certPath: string;
  keyPath: string;
}

/** The file names for material called `name` in `dir`. */
export function materialPaths(dir: string, name: string): MaterialPaths {
  return { certPath: join(dir, `${name}.pem`), keyPath: join(dir, `${name}-key.pem`) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await fs.open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * Writes `data` to `path` atomically with exactly `mode` (chmod after open, so the umask cannot
 * change it). Without `replace` it fails with EEXIST if `path` exists.
 */
export async function writeFileAtomic(path: string, data: string, mode: number, replace: boolean): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    if (replace) await fs.rename(tmp, path);
    else await fs.link(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  // After link(2) the data has two names; drop the temporary one.
  if (!replace) await fs.rm(tmp, { force: true });
  await syncDir(dir);
}

function refuse(path: string): CaError {
  return new CaError(CaLocalErrorCode.material, `${path} already exists; refusing to overwrite it (use --force to replace it)`);
}

/**
 * Writes a certificate and its key as `<dir>/<name>.pem` and `<dir>/<name>-key.pem`, creating `dir`
 * (0700) if needed. Refuses, naming the file, if either exists and `force` is not set.
 */
export async function writeMaterial(dir: string, name: string, material: CertAndKey, opts: { force?: boolean } = {}): Promise<MaterialPaths> {
  const paths = materialPaths(dir, name);
  const force = opts.force === true;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (!force) {
    for (const p of [paths.certPath, paths.keyPath]) if (await exists(p)) throw refuse(p);
  }
  const write = async (path: string, data: string, mode: number): Promise<void> => {
    try {
      await writeFileAtomic(path, data, mode, force);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw refuse(path);
      throw err;
    }
  };
  await write(paths.keyPath, material.keyPem, KEY_FILE_MODE);
  try {
    await write(paths.certPath, material.certPem, CERT_FILE_MODE);
  } catch (err) {
    // Lost a race for the certificate name: do not leave our key beside someone else's certificate.
    if (!force) await fs.rm(paths.keyPath, { force: true });
    throw err;
  }
  return paths;
}

async function readBounded(path: string, what: string): Promise<string> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, 'r');
  } catch (err) {
    throw new CaError(CaLocalErrorCode.material, `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const { size } = await fh.stat();
    if (size > MAX_MATERIAL_BYTES) throw new CaError(CaLocalErrorCode.material, `${what} ${path} is ${size} bytes; at most ${MAX_MATERIAL_BYTES} expected`);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * Reads a certificate (the first PEM block is the certificate; more may follow as its chain) and its
 * private key, and checks that the key belongs to the certificate. Errors name the file, never its
 * contents.
 */
export async function readMaterial(certPath: string, keyPath: string): Promise<CertAndKey> {
  const certPem = await readBounded(certPath, 'certificate');
  const keyPem = await readBounded(keyPath, 'key');
  const cert = parseCert(certPem, `certificate ${certPath}`);
  let key;
  try {
    key = privateKeyObject(keyPem);
  } catch (err) {
    throw new CaError(CaLocalErrorCode.material, `key ${keyPath}: ${(err as Error).message}`);
  }
  const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(Buffer.from(cert.publicKey.rawData))) {
    throw new CaError(CaLocalErrorCode.material, `key ${keyPath} does not belong to certificate ${certPath}`);
  }
  return { certPem, keyPem };
}
