/** `shoal catalog nodes` and `shoal catalog services`: the cluster's catalog, as `consul catalog`. */
import type { Command } from 'commander';
import type { CatalogServiceJson, NodeJson } from '../http';
import { clientFor, withHttpAddr } from './command-members';
import { formatCatalogNodes, formatCatalogServices } from './format-services';
import type { CliIo } from './io';

/** Registers `catalog` and its subcommands. */
export function registerCatalogCommands(program: Command, io: CliIo): void {
  const catalog = program.command('catalog').description('list the nodes and services in the catalog');

  withHttpAddr(catalog.command('nodes').description('list the nodes in the catalog'))
    .option('--detailed', 'also show node IDs and metadata')
    .option('--service <name>', 'only nodes that provide this service')
    .action(async (opts: { httpAddr?: string; detailed?: boolean; service?: string }) => {
      const client = clientFor(opts, io);
      let nodes = (await client.request('GET', '/v1/catalog/nodes')) as NodeJson[];
      if (opts.service !== undefined) {
        const rows = (await client.request('GET', `/v1/catalog/service/${encodeURIComponent(opts.service)}`)) as CatalogServiceJson[];
        const names = new Set(rows.map((r) => r.Node));
        nodes = nodes.filter((n) => names.has(n.Node));
      }
      io.stdout(`${formatCatalogNodes(nodes, { detailed: opts.detailed === true })}\n`);
    });

  withHttpAddr(catalog.command('services').description('list the services in the catalog'))
    .option('--tags', 'also show each service\'s tags')
    .option('--node <name>', 'only services on this node')
    .action(async (opts: { httpAddr?: string; tags?: boolean; node?: string }) => {
      const client = clientFor(opts, io);
      let services: Record<string, string[]>;
      if (opts.node === undefined) {
        services = (await client.request('GET', '/v1/catalog/services')) as Record<string, string[]>;
      } else {
        const node = (await client.request('GET', `/v1/catalog/node/${encodeURIComponent(opts.node)}`)) as { Services: Record<string, { Service: string; Tags: string[] }> } | null;
        services = {};
        for (const s of Object.values(node?.Services ?? {})) services[s.Service] = [...new Set([...(services[s.Service] ?? []), ...s.Tags])];
      }
      const text = formatCatalogServices(services, { tags: opts.tags === true });
      if (text !== '') io.stdout(`${text}\n`);
    });
}
