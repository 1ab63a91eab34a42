import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { repoRoot } from '../../hack/cluster/paths.js';
import { eventually } from './kube.js';

/** The committed, generated CRDs — what a user installs with the chart. */
export function chartCrds(): V1CustomResourceDefinition[] {
  const dir = join(repoRoot, 'charts', 'octopus', 'crds');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(readFileSync(join(dir, f), 'utf8')) as V1CustomResourceDefinition);
}

/** Server-side applies every Octopus CRD and waits until each is Established. Idempotent. */
export function installCrds(kc: KubeConfig): Promise<V1CustomResourceDefinition[]> {
  return applyCrds(kc, chartCrds(), 'octopus-tests');
}

/** Server-side applies `crds` as `fieldManager` and waits until each is Established. Idempotent. */
export async function applyCrds(kc: KubeConfig, crds: V1CustomResourceDefinition[], fieldManager: string): Promise<V1CustomResourceDefinition[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  for (const crd of crds) {
    await api.patchCustomResourceDefinition({ name: crd.metadata!.name!, body: crd, fieldManager, force: true }, apply);
  }
  for (const crd of crds) {
    await eventually(`CRD ${crd.metadata!.name} Established`, async () => {
      const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
  }
  return crds;
}
