#!/usr/bin/env node
/**
 * The `shoal` executable (package.json `bin`). Consul-style single-dash long options are accepted:
 * `shoal agent -config-file a.hcl -http-port 7500`.
 */
import { processIo } from './io';
import { runCli } from './program';

/** Runs the CLI on process.argv and exits with its code. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const result = await runCli(argv.slice(2), processIo);
  // The agent commands leave timers and sockets behind by design of their shutdown: exit explicitly.
  if (result.hardExit) process.exit(result.code);
  process.exitCode = result.code;
}

if (require.main === module) void main();
