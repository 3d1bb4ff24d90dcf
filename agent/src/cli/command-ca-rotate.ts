/**
 * `shoal ca rotate` and `shoal ca status`: root rotation (`ca init` and `ca intermediate` are in
 * command-ca.ts).
 *
 * - `ca rotate` runs on the operator's machine, where the root keys are: it makes the cluster's new
 *   intermediate under the new root and a copy of it cross-signed by the old root, and sends those
 *   (never a root key) to a server agent, which coordinates the rotation. `--dry-run` validates and
 *   shows what would wait; `--manual` makes every step wait for `ca rotate --next`, which is refused
 *   with the reason when the step is unsafe.
 * - `ca status` shows the rotation's phase, what blocks it, and each member's progress.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { certInfo, createIntermediate, crossSign, readMaterial, type CertAndKey } from '../../../ca/src';
import { systemClock } from '../core/clock';
import { CliError, type ApiClient } from './api-client';
import { clientFor, withHttpAddr } from './command-members';
import type { CliIo } from './io';

interface RotateOptions {
  httpAddr?: string;
  newRootCert?: string;
  newRootKey?: string;
  oldRootKey?: string;
  oldRootCert?: string;
  dryRun?: boolean;
  manual?: boolean;
  next?: boolean;
  generate?: boolean;
  reissueWindow?: string;
  dropGrace?: string;
}

/** Adds `rotate` and `status` to the `ca` command (command-ca.ts makes it, with `init` and `intermediate`). */
export function registerCaRotateCommands(ca: Command, io: CliIo): void {
  withHttpAddr(ca.command('rotate').description('rotate the root: verified, cross-signed, without downtime (send to a server agent)'))
    .option('--new-root-cert <file>', 'the new root certificate (from `shoal ca init` in another directory)')
    .option('--new-root-key <file>', 'the new root key: signs this cluster\'s new intermediate here; never sent')
    .option('--old-root-key <file>', 'the current root\'s key: cross-signs the new intermediate here; never sent')
    .option('--old-root-cert <file>', 'the current root certificate (default: the active root the agent reports)')
    .option('--dry-run', 'validate and show what would wait, change nothing')
    .option('--manual', 'advance each step only on `shoal ca rotate --next`')
    .option('--next', 'advance a manual rotation one step (refused, with the reason, when unsafe)')
    .option('--generate', 'dev mode only: let the agent make the new root itself')
    .option('--reissue-window <duration>', 'spread leaf reissue over this long (default: sized from members and rate limit)')
    .option('--drop-grace <duration>', 'wait after every leaf was reissued before dropping the old root (default 60s)')
    .action(async (opts: RotateOptions) => {
      const client = clientFor(opts, io);
      if (opts.next === true) {
        const r = (await client.request('PUT', '/v1/connect/ca/rotate/advance')) as { Rotation: Record<string, unknown> };
        io.stdout(`Rotation ${short(r.Rotation['ID'])}: now in phase ${String(r.Rotation['Phase'])}\n`);
        return;
      }
      const body = opts.generate === true ? { Generate: true } : await rotationMaterial(client, opts);
      const r = (await client.request('PUT', '/v1/connect/ca/rotate', {
        ...body, DryRun: opts.dryRun === true, Manual: opts.manual === true,
        ReissueWindow: opts.reissueWindow, DropGrace: opts.dropGrace,
      })) as { DryRun: boolean; Rotation: Record<string, unknown>; Blockers: Array<{ Member: string; Reason: string }> };
      io.stdout(formatRotateResult(r));
    });

  withHttpAddr(ca.command('status').description('show the roots, the rotation in progress and each member\'s progress'))
    .option('--format <format>', 'text or json', 'text')
    .action(async (opts: { httpAddr?: string; format: string }) => {
      const s = await clientFor(opts, io).request('GET', '/v1/connect/ca/status');
      io.stdout(opts.format === 'json' ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s as StatusJson));
    });
}

/** Makes the new intermediate and its cross-signed copy locally; returns the request body (no root key in it). */
async function rotationMaterial(client: ApiClient, opts: RotateOptions): Promise<Record<string, string>> {
  if (opts.newRootCert === undefined || opts.newRootKey === undefined) throw new CliError('--new-root-cert and --new-root-key are required (or --next, or --generate in dev mode)');
  if (opts.oldRootKey === undefined) throw new CliError('--old-root-key is required: the new intermediate is cross-signed by the current root so that peers which trust only it accept new leaves');
  const newRoot = await readMaterial(opts.newRootCert, opts.newRootKey);
  const self = (await client.request('GET', '/v1/agent/self')) as { Config: { Datacenter: string } };
  const roots = (await client.request('GET', '/v1/connect/ca/roots')) as { ActiveRootID: string; TrustDomain: string; Roots: Array<{ ID: string; RootCert: string }> };
  const oldCertPem = opts.oldRootCert === undefined ? roots.Roots.find((r) => r.ID === roots.ActiveRootID)?.RootCert : readText(opts.oldRootCert, '--old-root-cert');
  if (oldCertPem === undefined) throw new CliError('the agent reports no active root; give --old-root-cert');
  // crossSign checks that the key belongs to the certificate.
  const oldRoot: CertAndKey = { certPem: oldCertPem, keyPem: readText(opts.oldRootKey, '--old-root-key') };
  const td = trustDomainOf(newRoot.certPem);
  if (td !== roots.TrustDomain) throw new CliError(`the new root is for trust domain ${td}, the cluster's is ${roots.TrustDomain}`);
  const int = await createIntermediate({ root: newRoot, datacenter: self.Config.Datacenter, trustDomain: td, clock: systemClock });
  const cross = await crossSign({ certPem: int.certPem, signer: oldRoot, clock: systemClock });
  return { RootCert: newRoot.certPem, IntermediateCert: int.certPem, IntermediateKey: int.keyPem, CrossSignedCert: cross };
}

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function trustDomainOf(certPem: string): string {
  const uri = certInfo(certPem).uriSans.find((u) => u.startsWith('spiffe://'));
  if (uri === undefined) throw new CliError('the root certificate names no trust domain (no spiffe:// URI SAN)');
  return uri.slice('spiffe://'.length);
}

function short(v: unknown): string {
  return String(v ?? '').slice(0, 16);
}

/** What `rotate` prints. */
export function formatRotateResult(r: { DryRun: boolean; Rotation: Record<string, unknown>; Blockers: Array<{ Member: string; Reason: string }> }): string {
  const rot = r.Rotation;
  const lines = [
    r.DryRun ? 'Dry run: nothing changed. The rotation would be:' : 'Root rotation started:',
    `  new root:      ${String(rot['NewRootID'])}`,
    `  old root:      ${String(rot['OldRootID'])}`,
    `  intermediate:  ${String(rot['IntermediateID'])} (cluster ${String(rot['Datacenter'])})`,
    `  coordinator:   ${String(rot['Coordinator'])}${rot['Manual'] === true ? ' (manual: advance with `shoal ca rotate --next`)' : ''}`,
    `  reissue over:  ${Math.round(Number(rot['ReissueWindowMs']) / 1000)} s; old root dropped ${Math.round(Number(rot['DropGraceMs']) / 1000)} s after the last leaf`,
  ];
  if (r.Blockers.length > 0) {
    lines.push(r.DryRun ? 'Step 2 would wait for:' : 'Step 2 waits for:');
    for (const b of r.Blockers) lines.push(`  ${b.Member}: ${b.Reason}`);
  }
  lines.push('Follow it with `shoal ca status`.');
  return `${lines.join('\n')}\n`;
}

interface StatusJson {
  Datacenter: string;
  TrustDomain: string;
  ActiveRootID: string;
  RootIDs: string[];
  Rotation: (Record<string, unknown> & { Step: number; Blockers: Array<{ Member: string; Reason: string }> }) | null;
  Members: Array<{ Name: string; Status: string; Server: boolean; CA: boolean; TrustsNewRoot: boolean; SignsUnderNewRoot: boolean | null; LeavesUnderNewRoot: boolean; LeavesRoot: string }>;
}

/** What `status` prints. */
export function formatStatus(s: StatusJson): string {
  const lines = [`Trust domain ${s.TrustDomain}, cluster ${s.Datacenter}`, `Active root: ${s.ActiveRootID}`, `Roots held:  ${s.RootIDs.join(', ')}`];
  const r = s.Rotation;
  if (r === null) {
    lines.push('No rotation has been run in this cluster.');
  } else {
    lines.push(`Rotation to ${short(r['NewRootID'])}: step ${r.Step}/5, phase ${String(r['Phase'])}${r['FinishedAt'] !== null ? `, finished ${String(r['FinishedAt'])}` : ''}`);
    if (r.Blockers.length > 0 && r['Phase'] !== 'done') {
      lines.push('Waiting for:');
      for (const b of r.Blockers) lines.push(`  ${b.Member}: ${b.Reason}`);
    }
  }
  const yes = (v: boolean | null): string => (v === null ? '-' : v ? 'yes' : 'no');
  const rows = [['Node', 'Status', 'Role', 'Trusts new root', 'Signs under it', 'Leaves under it']];
  for (const m of s.Members) {
    rows.push([m.Name, m.Status, m.Server ? 'server' : 'client', m.CA ? yes(m.TrustsNewRoot) : 'no CA', yes(m.SignsUnderNewRoot), m.CA ? yes(m.LeavesUnderNewRoot) : '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) lines.push(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}
