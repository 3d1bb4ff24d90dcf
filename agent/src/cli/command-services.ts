/**
 * `shoal services` (this agent's services and their health), `shoal services register FILE` and
 * `shoal services deregister ID`, as Consul's `consul services register|deregister`.
 */
import type { Command } from 'commander';
import type { AgentServiceJson, HealthCheckJson } from '../http';
import { CliError } from './api-client';
import { clientFor, withHttpAddr } from './command-members';
import { readDefinitionFile } from './definition-file';
import { formatServices } from './format-services';
import type { CliIo } from './io';

/**
 * The service definitions in a parsed file: `service { }` (one or more blocks) or a `services`
 * list, in either case or spelling Consul accepts.
 */
export function servicesInFile(doc: unknown, file: string): Record<string, unknown>[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CliError(`${file}: expected a service definition object`);
  const found: Record<string, unknown>[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key.toLowerCase() !== 'service' && key.toLowerCase() !== 'services') continue;
    for (const def of Array.isArray(value) ? value : [value]) {
      if (typeof def !== 'object' || def === null || Array.isArray(def)) throw new CliError(`${file}: ${key}: expected service definition objects`);
      found.push(def as Record<string, unknown>);
    }
  }
  if (found.length === 0) throw new CliError(`${file}: no service definition found; expected a service { ... } block or a "services" list`);
  return found;
}

function nameOf(def: Record<string, unknown>): string {
  const v = def['Name'] ?? def['name'] ?? def['ID'] ?? def['id'];
  return typeof v === 'string' ? v : '(unnamed)';
}

/** Registers `services` and its subcommands. */
export function registerServiceCommands(program: Command, io: CliIo): void {
  const services = withHttpAddr(program.command('services').description('list this agent\'s services and their health; register or deregister services'))
    .action(async (opts: { httpAddr?: string }) => {
      const client = clientFor(opts, io);
      const list = (await client.request('GET', '/v1/agent/services')) as Record<string, AgentServiceJson>;
      const checks = (await client.request('GET', '/v1/agent/checks')) as Record<string, HealthCheckJson>;
      io.stdout(`${formatServices(list, checks)}\n`);
    });

  // -http-addr is the parent's option, so it may come before or after the subcommand.
  services.command('register')
    .description('register the services of a definition file (HCL or JSON; - reads standard input) with this agent')
    .argument('<file>', 'service definition file')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const client = clientFor(cmd.optsWithGlobals<{ httpAddr?: string }>(), io);
      for (const def of servicesInFile(await readDefinitionFile(file, io), file)) {
        await client.request('PUT', '/v1/agent/service/register', def);
        io.stdout(`Registered service: ${nameOf(def)}\n`);
      }
    });

  services.command('deregister')
    .description('deregister a service registered through the API from this agent')
    .argument('<id>', 'service ID')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await clientFor(cmd.optsWithGlobals<{ httpAddr?: string }>(), io).request('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
      io.stdout(`Deregistered service: ${id}\n`);
    });
}
