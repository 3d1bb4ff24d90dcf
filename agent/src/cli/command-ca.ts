/**
 * `shoal ca init` and `shoal ca intermediate`: the operator's offline CA steps. `init` makes the trust
 * domain's root (kept by the operator, off the servers); `intermediate` makes one cluster's
 * intermediate under it, whose key goes to that cluster's server agents. Neither replaces existing
 * files without `-force`. Keys are written 0600 and never printed.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  certInfo, createIntermediate, createRoot, DEFAULT_INTERMEDIATE_VALIDITY_MS, DEFAULT_ROOT_VALIDITY_MS, readMaterial, writeMaterial, materialPaths,
} from '../../../ca/src';
import { parseDurationMs, DURATION_EXPECTED } from '../config/duration';
import { systemClock } from '../core/clock';
import { CliError } from './api-client';
import type { CliIo } from './io';

/** File base name of the root (`root-ca.pem`, `root-ca-key.pem`). */
export const ROOT_NAME = 'root-ca';
/** File base name of a cluster's intermediate (`<cluster>-intermediate.pem`, `...-key.pem`). */
export const intermediateName = (cluster: string): string => `${cluster}-intermediate`;

function validity(flag: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0) throw new CliError(`-${flag}: ${DURATION_EXPECTED}, greater than 0`);
  return ms;
}

/** Registers `ca init` and `ca intermediate`; returns the `ca` command so more subcommands can join it. */
export function registerCaCommands(program: Command, io: CliIo): Command {
  const ca = program.command('ca').description('manage the mesh certificate authority (root and cluster intermediates)');

  ca.command('init')
    .description('create the trust domain\'s root CA: root-ca.pem and root-ca-key.pem (0600)')
    .requiredOption('--trust-domain <name>', 'the SPIFFE trust domain, e.g. "mesh.example.org"')
    .option('--dir <dir>', 'directory to write to', '.')
    .option('--validity <duration>', 'root lifetime (default 87600h, 10 years)')
    .option('--force', 'replace existing files')
    .action(async (opts: { trustDomain: string; dir: string; validity?: string; force?: boolean }) => {
      const validityMs = validity('validity', opts.validity, DEFAULT_ROOT_VALIDITY_MS);
      const root = await createRoot({ trustDomain: opts.trustDomain, validityMs, clock: systemClock });
      const paths = await writeMaterial(resolve(opts.dir), ROOT_NAME, root, { force: opts.force === true });
      io.stdout(`==> Created root CA for trust domain ${opts.trustDomain}, id ${root.id}\n`);
      io.stdout(`    certificate: ${paths.certPath}\n`);
      io.stdout(`    key:         ${paths.keyPath} (keep it offline; it signs cluster intermediates only)\n`);
    });

  ca.command('intermediate')
    .description('create a cluster\'s intermediate CA under the root: <cluster>-intermediate.pem and -key.pem (0600)')
    .requiredOption('--cluster <name>', 'the cluster (datacenter) the intermediate signs for')
    .option('--dir <dir>', 'directory to write to', '.')
    .option('--root-dir <dir>', 'directory holding root-ca.pem and root-ca-key.pem (default: -dir)')
    .option('--validity <duration>', 'intermediate lifetime (default 8760h, 1 year; never beyond the root)')
    .option('--force', 'replace existing files')
    .action(async (opts: { cluster: string; dir: string; rootDir?: string; validity?: string; force?: boolean }) => {
      const validityMs = validity('validity', opts.validity, DEFAULT_INTERMEDIATE_VALIDITY_MS);
      const rootPaths = materialPaths(resolve(opts.rootDir ?? opts.dir), ROOT_NAME);
      const root = await readMaterial(rootPaths.certPath, rootPaths.keyPath);
      const uri = certInfo(root.certPem).uriSans.find((u) => u.startsWith('spiffe://'));
      if (uri === undefined) throw new CliError(`${rootPaths.certPath} carries no spiffe:// URI SAN; is it a Shoal root?`);
      const trustDomain = uri.slice('spiffe://'.length);
      const inter = await createIntermediate({ root, datacenter: opts.cluster, trustDomain, validityMs, clock: systemClock });
      const paths = await writeMaterial(resolve(opts.dir), intermediateName(opts.cluster), inter, { force: opts.force === true });
      const info = certInfo(inter.certPem);
      io.stdout(`==> Created intermediate CA for cluster ${opts.cluster} in trust domain ${trustDomain}, id ${inter.id}\n`);
      io.stdout(`    certificate: ${paths.certPath}\n`);
      io.stdout(`    key:         ${paths.keyPath} (give it to ${opts.cluster}'s server agents)\n`);
      io.stdout(`    valid until: ${new Date(info.notAfterMs).toISOString()}\n`);
    });

  return ca;
}
