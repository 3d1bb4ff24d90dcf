/**
 * `shoal agent` and `shoal dev`: load configuration, run an Agent until it stops, and map signals:
 * SIGTERM/SIGINT leave gracefully and exit 0 (a second one exits at once), SIGHUP reloads.
 */
import { rmSync } from 'node:fs';
import type { Command } from 'commander';
import { Agent, createLogger } from '../agent';
import { AGENT_FLAGS, ConfigError, loadConfig, type ConfigPath, type LoadConfigOptions } from '../config';
import { systemClock } from '../core/clock';
import { systemdNotifierFromEnv } from '../systemd';
import { startDemo, type Demo } from '../dev/demo';
import type { CliIo } from './io';

/** Adds the agent flags (from the config flag table) plus -config-file, -config-dir; returns the ordered paths. */
export function addAgentOptions(cmd: Command): ConfigPath[] {
  const paths: ConfigPath[] = [];
  cmd.option('--config-file <path>', 'config file, HCL or JSON (repeatable; later files override earlier ones)', (v: string) => {
    paths.push({ kind: 'file', path: v });
    return undefined;
  });
  cmd.option('--config-dir <dir>', 'directory of *.hcl and *.json config files, read in lexical order (repeatable)', (v: string) => {
    paths.push({ kind: 'dir', path: v });
    return undefined;
  });
  for (const f of AGENT_FLAGS) {
    if (f.kind === 'bool') cmd.option(`--${f.flag}`, f.description);
    else if (f.kind === 'list') cmd.option(`--${f.flag} <value>`, f.description, (v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    else cmd.option(`--${f.flag} <value>`, f.description);
  }
  return paths;
}

/** Runs an agent until it stops; resolves with the process exit code. With `demo`, the dev demo services run beside it. */
export async function runAgent(inputs: LoadConfigOptions, io: CliIo, opts: { demo?: boolean } = {}): Promise<number> {
  let config;
  try {
    config = await loadConfig(inputs);
  } catch (err) {
    io.stderr(`${err instanceof ConfigError ? err.message : `Error loading configuration: ${(err as Error).message}`}\n`);
    return 1;
  }
  const logger = createLogger({ level: config.logLevel, json: config.logJson });
  const notifier = systemdNotifierFromEnv({ env: io.env, config, clock: systemClock, logger });
  const agent = new Agent({ config, logger, reloadConfig: () => loadConfig(inputs), lifecycle: notifier });
  let signals = 0;
  const onStop = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting immediately');
      // A dev agent's temporary data directory goes even then: it holds keys and is of no further use.
      const temp = agent.temporaryDataDirectory;
      if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down gracefully (leaving the cluster); send the signal again to exit at once');
    void agent.shutdown({ leave: true });
  };
  const onHup = (): void => {
    agent.reload().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'reload failed; the running configuration is unchanged'));
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  try {
    await agent.start();
  } catch (err) {
    await notifier?.close();
    io.stderr(`Error starting agent: ${(err as Error).message}\n`);
    return 1;
  }
  let demo: Demo | undefined;
  if (opts.demo === true) {
    try {
      demo = await startDemo(agent);
      io.stderr(`${demo.banner}\n`);
    } catch (err) {
      io.stderr(`Error starting the demo: ${(err as Error).message}\n`);
      await agent.shutdown({ leave: false });
      await notifier?.close();
      return 1;
    }
  }
  const exit = await agent.exited;
  await demo?.stop();
  await notifier?.close();
  process.off('SIGHUP', onHup);
  if (exit.error !== undefined) {
    io.stderr(`Agent stopped: ${exit.error.message}\n`);
    return 1;
  }
  return 0;
}

/** Registers `agent` and `dev`. `done` receives the exit code once the agent stops. */
export function registerAgentCommands(program: Command, io: CliIo, done: (code: number, hard: boolean) => void): void {
  const agentCmd = program.command('agent').description('run a Shoal agent');
  const agentPaths = addAgentOptions(agentCmd);
  agentCmd.option('--dev', 'dev mode: server on 127.0.0.1, fast gossip, temporary data dir');
  agentCmd.action(async (opts: Record<string, unknown>) => {
    done(await runAgent({ paths: agentPaths, flags: opts, dev: opts['dev'] === true }, io), true);
  });

  const devCmd = program.command('dev').description('run a single dev agent (server, node "dev", 127.0.0.1, temporary data dir)');
  const devPaths = addAgentOptions(devCmd);
  devCmd.option('--demo', 'also run two demo services, web calling api through the mesh (what `npm run dev` starts)');
  devCmd.action(async (opts: Record<string, unknown>) => {
    const { demo, ...flags } = opts;
    done(await runAgent({ paths: devPaths, flags: { ...flags, node: flags['node'] ?? 'dev' }, dev: true }, io, { demo: demo === true }), true);
  });
}
