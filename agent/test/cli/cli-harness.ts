/** Runs CLI commands in-process against an HttpApiServer over fake stores. */
import { runCli } from '../../src/cli/program';
import type { CliIo } from '../../src/cli/io';
import type { ApiDependencies } from '../../src/http';
import { startApi, type Harness } from '../http/harness';

/** A started API and a `run` that returns exit code and output. */
export interface CliHarness {
  api: Harness;
  run(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }>;
}

/** Starts the API over `deps`; close with `api.server.close()`. */
export async function startCli(deps: ApiDependencies): Promise<CliHarness> {
  const api = await startApi(deps);
  const addr = api.base.replace('http://', '');
  return {
    api,
    async run(args, stdin) {
      let out = '';
      let err = '';
      const io: CliIo = {
        stdout: (t) => (out += t), stderr: (t) => (err += t), env: { SHOAL_HTTP_ADDR: addr },
        ...(stdin === undefined ? {} : { readStdin: async () => stdin }),
      };
      const r = await runCli(args, io);
      return { code: r.code, out, err };
    },
  };
}
