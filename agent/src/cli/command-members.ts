/** `shoal members`, `join`, `leave`, `reload`: membership through the agent's HTTP API. */
import type { Command } from 'commander';
import type { MemberJson } from '../http';
import { ApiClient, CliError, resolveHttpAddr, resolveHttpToken } from './api-client';
import { formatMembers } from './format';
import type { CliIo } from './io';

/** Adds `-http-addr` to a client command. */
export function withHttpAddr(cmd: Command): Command {
  return cmd.option('--http-addr <addr>', 'agent HTTP API address (default: $SHOAL_HTTP_ADDR or http://127.0.0.1:7500)');
}

/** The API client for a command's options. */
export function clientFor(opts: { httpAddr?: string }, io: CliIo): ApiClient {
  return new ApiClient(resolveHttpAddr(opts.httpAddr, io.env), undefined, resolveHttpToken(io.env));
}

/** Registers the membership commands. */
export function registerMemberCommands(program: Command, io: CliIo): void {
  withHttpAddr(program.command('members').description('list the members of the cluster'))
    .option('--detailed', 'show every tag instead of the summary columns')
    .option('--wan', 'list the WAN pool (servers) instead of the LAN pool')
    .option('--status <regex>', 'only members whose status matches (alive, suspect, failed, left)')
    .action(async (opts: { httpAddr?: string; detailed?: boolean; wan?: boolean; status?: string }) => {
      let status: RegExp | undefined;
      try {
        status = opts.status === undefined ? undefined : new RegExp(opts.status);
      } catch {
        throw new CliError(`-status: invalid regular expression ${JSON.stringify(opts.status)}`);
      }
      const members = (await clientFor(opts, io).request('GET', `/v1/agent/members${opts.wan === true ? '?wan=1' : ''}`)) as MemberJson[];
      io.stdout(`${formatMembers(members, { detailed: opts.detailed === true, status })}\n`);
    });

  withHttpAddr(program.command('join').description('join the agent to a cluster through one or more members'))
    .argument('<address...>', 'host or host:port of a member')
    .option('--wan', 'join the WAN pool (servers)')
    .action(async (addresses: string[], opts: { httpAddr?: string; wan?: boolean }) => {
      const client = clientFor(opts, io);
      let joined = 0;
      const failures: string[] = [];
      for (const addr of addresses) {
        try {
          await client.request('PUT', `/v1/agent/join/${encodeURIComponent(addr)}${opts.wan === true ? '?wan=1' : ''}`);
          joined++;
        } catch (err) {
          if (!(err instanceof CliError) || err.message.startsWith('cannot reach')) throw err;
          failures.push(err.message);
        }
      }
      if (joined === 0) throw new CliError(failures.join('; '));
      for (const f of failures) io.stderr(`Warning: ${f}\n`);
      io.stdout(`Successfully joined cluster by contacting ${joined} node${joined === 1 ? '' : 's'}.\n`);
    });

  withHttpAddr(program.command('leave').description('make the agent leave the cluster gracefully and stop'))
    .action(async (opts: { httpAddr?: string }) => {
      await clientFor(opts, io).request('PUT', '/v1/agent/leave');
      io.stdout('Graceful leave complete\n');
    });

  withHttpAddr(program.command('reload').description('make the agent re-read its configuration'))
    .action(async (opts: { httpAddr?: string }) => {
      const r = (await clientFor(opts, io).request('PUT', '/v1/agent/reload')) as { Applied?: string[]; RestartRequired?: string[] } | undefined;
      io.stdout('Configuration reload triggered\n');
      if (r?.RestartRequired !== undefined && r.RestartRequired.length > 0) {
        io.stderr(`Warning: these changed settings need a restart: ${r.RestartRequired.join(', ')}\n`);
      }
    });
}
