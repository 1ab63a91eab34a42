/**
 * A storage provisioner for the simulated cluster. kwok simulates kubelets, but nothing
 * provisions volumes, and a pod whose claim is unbound is never scheduled. This binds every
 * claim of the default StorageClass to a hostPath PersistentVolume made for it (the
 * controller manager's binder does the binding) and deletes volumes whose claim is gone —
 * what a CSI driver's external-provisioner does, minus the disk. Test infrastructure only.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig, StorageV1Api, type V1PersistentVolume, type V1PersistentVolumeClaim } from '@kubernetes/client-node';

export const storageClassName = 'standard';
export const provisionerName = 'octopus.local/hostpath';
const provisionedLabel = 'octopus.local/provisioned';

/** The volume a claim gets: its size and access modes, bound to it by claimRef. */
export function volumeFor(claim: V1PersistentVolumeClaim): V1PersistentVolume {
  const uid = claim.metadata!.uid!;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: `pvc-${uid}`,
      labels: { [provisionedLabel]: 'true' },
      annotations: { 'pv.kubernetes.io/provisioned-by': provisionerName },
    },
    spec: {
      capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
      accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName,
      ...(claim.spec?.volumeMode ? { volumeMode: claim.spec.volumeMode } : {}),
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: claim.metadata!.namespace!, name: claim.metadata!.name!, uid },
      hostPath: { path: `/tmp/octopus-local/volumes/${uid}`, type: 'DirectoryOrCreate' },
    },
  };
}

/** Claims this provisioner serves: our class, not yet bound or promised a volume. */
export function wantsVolume(claim: V1PersistentVolumeClaim): boolean {
  return claim.spec?.storageClassName === storageClassName && !claim.spec?.volumeName && claim.status?.phase === 'Pending' && !claim.metadata?.deletionTimestamp;
}

async function ensureStorageClass(kc: KubeConfig): Promise<void> {
  try {
    await kc.makeApiClient(StorageV1Api).createStorageClass({
      body: {
        metadata: { name: storageClassName, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: provisionerName,
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'Immediate',
      },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

async function pass(core: CoreV1Api): Promise<void> {
  const claims = (await core.listPersistentVolumeClaimForAllNamespaces()).items;
  const volumes = (await core.listPersistentVolume({ labelSelector: `${provisionedLabel}=true` })).items;
  const existing = new Set(volumes.map((v) => v.metadata!.name!));
  for (const claim of claims.filter(wantsVolume)) {
    const pv = volumeFor(claim);
    if (existing.has(pv.metadata!.name!)) continue;
    try {
      await core.createPersistentVolume({ body: pv });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
  const liveClaims = new Set(claims.map((c) => c.metadata!.uid!));
  for (const pv of volumes) {
    if (pv.status?.phase === 'Released' || !liveClaims.has(pv.spec?.claimRef?.uid ?? '')) {
      await core.deletePersistentVolume({ name: pv.metadata!.name! }).catch(() => undefined);
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, port: { type: 'string' } } });
  if (!values.kubeconfig || !values.port) throw new Error('usage: provisioner --kubeconfig <path> --port <health port>');
  const kc = new KubeConfig();
  kc.loadFromFile(values.kubeconfig);
  await ensureStorageClass(kc);
  const core = kc.makeApiClient(CoreV1Api);
  createServer((_, res) => res.end('ok')).listen(Number(values.port), '127.0.0.1');
  // Polling keeps this small and obviously correct; twice a second is nothing for the apiserver.
  for (;;) {
    await pass(core).catch((err: unknown) => console.error(`provisioner: ${err instanceof Error ? err.message : String(err)}`));
    await sleep(500);
  }
}

if (process.argv[1]?.endsWith('provisioner.ts')) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
