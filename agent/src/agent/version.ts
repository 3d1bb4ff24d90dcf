/** The running version, read once from the package manifest. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

function readVersion(): string {
  // Compiled code runs from dist/agent/src/agent/; sources (ts-node) from agent/src/agent/.
  for (const rel of ['../../../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(resolve(__dirname, rel), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'shoal' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next layout
    }
  }
  return '0.0.0-dev';
}

/** Semantic version of this build. */
export const VERSION = readVersion();

/** Source revision, when the build provides one through SHOAL_REVISION; empty otherwise. */
export const REVISION = (process.env['SHOAL_REVISION'] ?? '').trim();

/** The `build` gossip tag: `version` or `version:revision` (as Consul's build tag). */
export const BUILD = REVISION === '' ? VERSION : `${VERSION}:${REVISION.slice(0, 12)}`;
