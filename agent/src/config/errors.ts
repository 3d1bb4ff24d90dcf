/**
 * The configuration error catalogue. Codes are stable: scripts and tests match on them, never on
 * message text.
 */

/** Stable codes for configuration failures. */
export const ConfigErrorCode = {
  /** One or more problems in files, directories or flags; every problem is listed. */
  invalid: 'SHOAL_ERR_CONFIG_INVALID',
} as const;

/** One problem: where it came from (file, `file:line,col` or `command line`), which field, what was expected. */
export interface ConfigProblem {
  /** A file path (with `:line,col` for syntax errors), `command line`, or `defaults`. */
  source: string;
  /** Dotted key path (`ports.http`), a flag (`-http-port`), or empty for whole-file problems. */
  field: string;
  /** What was expected, and what was found when that helps. */
  message: string;
}

/** Renders one problem as `source: field: message` (the field is omitted when empty). */
export function formatProblem(p: ConfigProblem): string {
  return p.field === '' ? `${p.source}: ${p.message}` : `${p.source}: ${p.field}: ${p.message}`;
}

/**
 * Every problem found in one configuration load. An operator with three typos learns about all
 * three in one run.
 */
export class ConfigError extends Error {
  readonly code = ConfigErrorCode.invalid;

  constructor(readonly problems: readonly ConfigProblem[]) {
    const n = problems.length;
    super(`invalid configuration (${n} problem${n === 1 ? '' : 's'}):\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
