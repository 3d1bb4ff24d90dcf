/**
 * `shoal config write|read|list|delete`: config entries, with the flags and messages of Consul's
 * `consul config` commands, so operators bring their files and habits over.
 */
import type { Command } from 'commander';
import { CliError } from './api-client';
import { clientFor, withHttpAddr } from './command-members';
import { readDefinitionFile } from './definition-file';
import type { CliIo } from './io';

interface CasOptions {
  cas?: boolean;
  modifyIndex?: string;
}

/** The `?cas=N` query for `-cas -modify-index N`, '' without `-cas`; both flags go together. */
export function casQuery(opts: CasOptions): string {
  if (opts.cas !== true) {
    if (opts.modifyIndex !== undefined) throw new CliError('-modify-index needs -cas');
    return '';
  }
  if (opts.modifyIndex === undefined) throw new CliError('-cas needs -modify-index N (the entry\'s ModifyIndex; 0 writes only a new entry)');
  if (!/^\d+$/.test(opts.modifyIndex)) throw new CliError(`-modify-index: expected a non-negative integer, got ${JSON.stringify(opts.modifyIndex)}`);
  return `?cas=${opts.modifyIndex}`;
}

/** A kind and name from the entry itself (either spelling), for the messages. */
function entryId(entry: unknown): string {
  const e = (entry ?? {}) as Record<string, unknown>;
  return `${String(e['Kind'] ?? e['kind'] ?? '?')}/${String(e['Name'] ?? e['name'] ?? '?')}`;
}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new CliError(`${flag} is required`);
  return value;
}

const path = (kind: string, name?: string): string =>
  `/v1/config/${encodeURIComponent(kind)}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

/** Registers `config` and its subcommands. */
export function registerConfigCommands(program: Command, io: CliIo): void {
  const config = program.command('config').description('write, read, list and delete config entries');

  withHttpAddr(config.command('write').description('write a config entry from a file (HCL or JSON; - reads standard input)'))
    .argument('<file>', 'config entry file')
    .option('--cas', 'check-and-set: write only if the entry\'s ModifyIndex is -modify-index')
    .option('--modify-index <n>', 'the ModifyIndex the entry must have (0: it must not exist)')
    .action(async (file: string, opts: CasOptions & { httpAddr?: string }) => {
      const query = casQuery(opts);
      const entry = await readDefinitionFile(file, io);
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new CliError(`${file}: expected one config entry (an object with Kind and Name)`);
      const written = await clientFor(opts, io).request('PUT', `/v1/config${query}`, entry);
      if (written !== true) throw new CliError(`Config entry not updated: ${entryId(entry)} (its ModifyIndex is not ${opts.modifyIndex ?? '?'})`);
      io.stdout(`Config entry written: ${entryId(entry)}\n`);
    });

  withHttpAddr(config.command('read').description('print a config entry as JSON'))
    .option('--kind <kind>', 'entry kind, e.g. service-defaults')
    .option('--name <name>', 'entry name')
    .action(async (opts: { httpAddr?: string; kind?: string; name?: string }) => {
      const entry = await clientFor(opts, io).request('GET', path(need(opts.kind, '-kind'), need(opts.name, '-name')));
      io.stdout(`${JSON.stringify(entry, null, 4)}\n`);
    });

  withHttpAddr(config.command('list').description('list the names of the config entries of a kind'))
    .option('--kind <kind>', 'entry kind, e.g. service-defaults')
    .action(async (opts: { httpAddr?: string; kind?: string }) => {
      const entries = (await clientFor(opts, io).request('GET', path(need(opts.kind, '-kind')))) as { Name: string }[];
      for (const e of entries) io.stdout(`${e.Name}\n`);
    });

  withHttpAddr(config.command('delete').description('delete a config entry'))
    .option('--kind <kind>', 'entry kind')
    .option('--name <name>', 'entry name')
    .option('--cas', 'check-and-set: delete only if the entry\'s ModifyIndex is -modify-index')
    .option('--modify-index <n>', 'the ModifyIndex the entry must have')
    .action(async (opts: CasOptions & { httpAddr?: string; kind?: string; name?: string }) => {
      const kind = need(opts.kind, '-kind');
      const name = need(opts.name, '-name');
      const query = casQuery(opts);
      const result = await clientFor(opts, io).request('DELETE', `${path(kind, name)}${query}`);
      if (query !== '' && result !== true) throw new CliError(`Config entry not deleted: ${kind}/${name} (absent, or its ModifyIndex is not ${opts.modifyIndex ?? '?'})`);
      io.stdout(`Config entry deleted: ${kind}/${name}\n`);
    });
}
