/** A fake AgentApi for route tests: canned members, recorded calls. */
import type { AgentApi, AgentSelf, KeyringOperation, KeyringReport, ReloadResult } from '../../src/http';
import type { Member } from '../../src/gossip/member';
import type { JoinResult } from '../../src/gossip/memberlist';

/** A member snapshot. */
export function member(name: string, state: Member['state'], addr = '127.0.0.1:7301', tags: Record<string, string> = {}): Member {
  return { name, addr, tags, state, incarnation: 1, protocol: 1, stateChangedAtMs: 0 };
}

/** Records what the routes asked for. */
export class FakeAgent implements AgentApi {
  lan: Member[] = [member('a', 'alive', '127.0.0.1:7301', { role: 'client,server', dc: 'dc1' }), member('b', 'suspect'), member('c', 'dead'), member('d', 'left')];
  wan: Member[] | undefined = undefined;
  calls: string[] = [];
  joinResult: JoinResult = { joined: 1, errors: [] };
  opReports: KeyringReport[] = [report()];

  lanMembers(): Member[] {
    return this.lan;
  }

  wanMembers(): Member[] | undefined {
    return this.wan;
  }

  self(): AgentSelf {
    return {
      config: { Datacenter: 'dc1', NodeName: 'a', NodeID: 'id', Server: true, Revision: '', Version: '0.1.0', Region: '', Zone: '' },
      member: this.lan[0]!,
      stats: { serf_lan: { members: '4' } },
    };
  }

  async join(addrs: string[], wan: boolean): Promise<JoinResult> {
    this.calls.push(`join ${addrs.join(',')} wan=${wan}`);
    return this.joinResult;
  }

  async leave(): Promise<void> {
    this.calls.push('leave');
  }

  async shutdown(): Promise<void> {
    this.calls.push('shutdown');
  }

  async reload(): Promise<ReloadResult> {
    this.calls.push('reload');
    return { applied: ['log_level'], restartRequired: [] };
  }

  async keyringList(): Promise<KeyringReport[]> {
    this.calls.push('keyring list');
    return [report({ keys: { K1: 3, K2: 2 }, primaryKeys: { K1: 3 }, numNodes: 3, numResponses: 3 })];
  }

  async keyringOperation(op: KeyringOperation, key: string): Promise<KeyringReport[]> {
    this.calls.push(`keyring ${op} ${key}`);
    return this.opReports;
  }

  async metricsText(): Promise<{ contentType: string; text: string }> {
    return { contentType: 'text/plain; version=0.0.4; charset=utf-8', text: '# HELP x y\n' };
  }
}

/** A keyring report with defaults. */
export function report(over: Partial<KeyringReport> = {}): KeyringReport {
  return { wan: false, datacenter: 'dc1', keys: {}, primaryKeys: {}, numNodes: 1, numResponses: 1, numErrors: 0, messages: {}, ...over };
}
