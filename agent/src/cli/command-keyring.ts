/**
 * `shoal keyring` and `shoal keygen`: gossip key rotation across the cluster. A key may be given as
 * `@path` so it is read from a file and stays out of shell history.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { generateKey } from '../gossip/keyring';
import type { KeyringReportJson } from '../http';
import { CliError } from './api-client';
import { clientFor, withHttpAddr } from './command-members';
import { formatKeyringList } from './format';
import type { CliIo } from './io';

/** A key argument, or the trimmed contents of the file it names with a leading `@`. */
export function readKeyArg(arg: string): string {
  if (!arg.startsWith('@')) return arg.trim();
  const path = arg.slice(1);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new CliError(`cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const OPS = [
  { flag: 'install', method: 'POST', verb: 'Installing new gossip encryption key' },
  { flag: 'use', method: 'PUT', verb: 'Changing primary gossip encryption key' },
  { flag: 'remove', method: 'DELETE', verb: 'Removing gossip encryption key' },
] as const;

/** Registers `keyring` and `keygen`. */
export function registerKeyringCommands(program: Command, io: CliIo): void {
  withHttpAddr(program.command('keyring').description('manage gossip encryption keys across the cluster'))
    .option('--install <key>', 'install a key on every member (base64, or @file)')
    .option('--use <key>', 'make an installed key primary on every member (base64, or @file)')
    .option('--remove <key>', 'remove a key from every member (base64, or @file)')
    .option('--list', 'list installed keys and how many members hold each')
    .action(async (opts: { httpAddr?: string; install?: string; use?: string; remove?: string; list?: boolean }) => {
      const chosen = [opts.install, opts.use, opts.remove, opts.list].filter((v) => v !== undefined).length;
      if (chosen !== 1) throw new CliError('keyring: give exactly one of -install, -use, -remove or -list');
      const client = clientFor(opts, io);
      if (opts.list === true) {
        const reports = (await client.request('GET', '/v1/operator/keyring')) as KeyringReportJson[];
        io.stdout(`${formatKeyringList(reports)}\n`);
        return;
      }
      for (const op of OPS) {
        const arg = opts[op.flag];
        if (arg === undefined) continue;
        const key = readKeyArg(arg);
        if (key === '') throw new CliError(`-${op.flag}: the key is empty`);
        io.stdout(`==> ${op.verb}...\n`);
        await client.request(op.method, '/v1/operator/keyring', { Key: key });
        io.stdout('==> Done\n');
      }
    });

  program.command('keygen').description('print a new random gossip encryption key (AES-256, base64)').action(() => {
    io.stdout(`${generateKey()}\n`);
  });
}
