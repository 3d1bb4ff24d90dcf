/** Test PKI for the agent's CA tests: roots, intermediates and cross-signs made with the CA library. */
import { createIntermediate, createRoot, crossSign, type CaMaterial } from '../../../ca/src';
import type { Clock } from '../../src/core/clock';
import { systemClock } from '../../src/core/clock';

export const TD = 'shoal.test';
export const DC = 'dc1';

/** An old root with its intermediate, a new root with its intermediate, and the new intermediate cross-signed by the old root. */
export interface RotationPki {
  oldRoot: CaMaterial;
  oldInt: CaMaterial;
  newRoot: CaMaterial;
  newInt: CaMaterial;
  cross: string;
}

export async function rotationPki(clock: Clock = systemClock, dc = DC): Promise<RotationPki> {
  const oldRoot = await createRoot({ trustDomain: TD, clock });
  const oldInt = await createIntermediate({ root: oldRoot, datacenter: dc, trustDomain: TD, clock });
  const newRoot = await createRoot({ trustDomain: TD, clock });
  const newInt = await createIntermediate({ root: newRoot, datacenter: dc, trustDomain: TD, clock });
  const cross = await crossSign({ certPem: newInt.certPem, signer: oldRoot, clock });
  return { oldRoot, oldInt, newRoot, newInt, cross };
}
