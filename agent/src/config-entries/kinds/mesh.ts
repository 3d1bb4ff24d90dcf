/**
 * `mesh`: mesh-wide settings (Name "mesh"): transparent proxy pass-through, TLS versions and cipher
 * suites of proxy listeners, HTTP request normalization, peering through mesh gateways.
 */
import { type KindSpec } from './kind';
import { bool, type Ctx, join, list, obj, str, type Validator } from './schema';

/** The only name a mesh entry may have. */
export const MESH_NAME = 'mesh';

const TLS_VERSIONS = ['TLS_AUTO', 'TLSv1_0', 'TLSv1_1', 'TLSv1_2', 'TLSv1_3'] as const;

/** Cipher suites Consul accepts (TLS 1.2 and below; TLS 1.3 suites are not configurable). */
export const CIPHER_SUITES = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA', 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
] as const;

function directionalTls(): Validator {
  return obj({
    TLSMinVersion: str({ enum: TLS_VERSIONS }),
    TLSMaxVersion: str({ enum: TLS_VERSIONS }),
    CipherSuites: list(str({ enum: CIPHER_SUITES }), { max: CIPHER_SUITES.length }),
  }, { check: checkTls });
}

function checkTls(t: Record<string, unknown>, path: string, ctx: Ctx): void {
  const rank = (v: unknown): number => (typeof v === 'string' && v !== 'TLS_AUTO' ? TLS_VERSIONS.indexOf(v as never) : -1);
  const min = rank(t['TLSMinVersion']);
  const max = rank(t['TLSMaxVersion']);
  if (min >= 0 && max >= 0 && max < min) {
    ctx.problem(join(path, 'TLSMaxVersion'), `${String(t['TLSMaxVersion'])} is below TLSMinVersion ${String(t['TLSMinVersion'])}`);
  }
  const suites = t['CipherSuites'] as string[] | undefined;
  if (suites !== undefined && suites.length > 0 && t['TLSMinVersion'] === 'TLSv1_3') {
    ctx.problem(join(path, 'CipherSuites'), 'cannot be set when TLSMinVersion is TLSv1_3 (TLS 1.3 suites are not configurable)');
  }
  suites?.forEach((s, i) => {
    if (suites.indexOf(s) !== i) ctx.problem(`${join(path, 'CipherSuites')}[${i}]`, `${s} appears more than once`);
  });
}

export const mesh: KindSpec = {
  kind: 'mesh',
  defaultName: MESH_NAME,
  name: (v, path, ctx) => (v === MESH_NAME ? v : void ctx.problem(path, `must be "mesh" (the only mesh entry), got ${JSON.stringify(v)}`)),
  ignored: ['Hash'],
  fields: {
    TransparentProxy: obj({ MeshDestinationsOnly: bool() }),
    AllowEnablingPermissiveMutualTLS: bool(),
    ValidateClusters: bool(),
    TLS: obj({ Incoming: directionalTls(), Outgoing: directionalTls() }),
    HTTP: obj({
      SanitizeXForwardedClientCert: bool(),
      Incoming: obj({
        RequestNormalization: obj({
          InsecureDisablePathNormalization: bool(),
          MergeSlashes: bool(),
          PathWithEscapedSlashesAction: str({
            enum: ['', 'IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD'],
          }),
          HeadersWithUnderscoresAction: str({ enum: ['', 'ALLOW', 'REJECT_REQUEST', 'DROP_HEADER'] }),
        }),
      }),
    }),
    Peering: obj({ PeerThroughMeshGateways: bool() }),
  },
  check: (e, ctx) => {
    if (e['Namespace'] !== undefined && e['Namespace'] !== 'default' && e['Namespace'] !== '') ctx.problem('Namespace', 'mesh is global: only "default"');
  },
};
