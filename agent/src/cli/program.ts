/** The `shoal` command tree. Kept apart from main.ts so tests can run commands in-process. */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../agent';
import { CliError } from './api-client';
import { normaliseArgv, longOptions } from './argv';
import { registerAgentCommands } from './command-agent';
import { registerCaCommands } from './command-ca';
import { registerCaRotateCommands } from './command-ca-rotate';
import { registerCatalogCommands } from './command-catalog';
import { registerConfigCommands } from './command-config';
import { registerKeyringCommands } from './command-keyring';
import { registerMemberCommands } from './command-members';
import { registerServiceCommands } from './command-services';
import type { CliIo } from './io';

/** How a CLI run ended: the exit code, and whether to exit at once (the agent may leave handles open). */
export interface CliResult {
  code: number;
  hardExit: boolean;
}

/** Builds the program; `result` is filled in by the command that ran. */
export function buildProgram(io: CliIo, result: CliResult): Command {
  const program = new Command('shoal')
    .description('Shoal service mesh agent and CLI')
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with -help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  registerAgentCommands(program, io, (code, hard) => {
    result.code = code;
    result.hardExit = hard;
  });
  registerMemberCommands(program, io);
  registerKeyringCommands(program, io);
  registerServiceCommands(program, io);
  registerCatalogCommands(program, io);
  registerConfigCommands(program, io);
  registerCaRotateCommands(registerCaCommands(program, io), io);
  // Every level (`config write` too) reports through io and returns instead of exiting the process.
  const override = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
      override(sub);
    }
  };
  override(program);
  return program;
}

/** Runs the CLI with `args` (without node and script); resolves with the exit code to use. */
export async function runCli(args: readonly string[], io: CliIo): Promise<CliResult> {
  const result: CliResult = { code: 0, hardExit: false };
  const program = buildProgram(io, result);
  try {
    await program.parseAsync(normaliseArgv(args, longOptions(program)), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (or the help / version).
      result.code = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : err.exitCode || 1;
    } else if (err instanceof CliError) {
      io.stderr(`Error: ${err.message}\n`);
      result.code = 1;
    } else {
      io.stderr(`Error: ${(err as Error).message ?? String(err)}\n`);
      result.code = 1;
    }
  }
  return result;
}
