/**
 * Consul's CLI writes long options with one dash (`-config-file`, `-http-addr`); commander expects
 * two. Before parsing, a single-dash token that names a known long option of the program is given a
 * second dash (`-http-port=7500` too). Anything else is left alone, so values and real short options
 * are never rewritten, and nothing after `--` is touched.
 */
import type { Command } from 'commander';

/** Every long option (`--config-file`) of a command and its subcommands, plus help and version. */
export function longOptions(program: Command): Set<string> {
  const out = new Set<string>(['--help', '--version']);
  const visit = (cmd: Command): void => {
    for (const o of cmd.options) if (o.long !== undefined) out.add(o.long);
    for (const sub of cmd.commands) visit(sub);
  };
  visit(program);
  return out;
}

/** Rewrites `-name` and `-name=value` to `--name...` when `--name` is a known long option. */
export function normaliseArgv(args: readonly string[], known: ReadonlySet<string>): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (const arg of args) {
    if (passthrough || arg === '--') {
      passthrough = true;
      out.push(arg);
      continue;
    }
    const m = /^-([A-Za-z][A-Za-z0-9-]+)(=.*)?$/s.exec(arg);
    out.push(m !== null && known.has(`--${m[1]}`) ? `-${arg}` : arg);
  }
  return out;
}
