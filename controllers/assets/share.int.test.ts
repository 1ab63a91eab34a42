import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1ConfigMap, V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { createTestNamespace, deleteNamespace, eventually } from '../../e2e/harness/kube.js';
import { core } from '../resources.js';
import { isNotFound } from '../runtime/index.js';
import { ensureOwnClaim, ensureSharedClaim, ShareError, sharedClaimName, sharedVolumeName } from './share.js';
import { useAssetPlane, type AssetPlane } from './testing/plane.js';

/** The claim `name` of `namespace`, or undefined. */
async function claimIn(plane: AssetPlane, namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined> {
  return plane.client.get<V1PersistentVolumeClaim>(core.PersistentVolumeClaim, name, namespace).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
}

async function volume(plane: AssetPlane, name: string): Promise<V1PersistentVolume | undefined> {
  return plane.client.get<V1PersistentVolume>(core.PersistentVolume, name).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
}

async function createIn<T extends V1PersistentVolumeClaim | V1ConfigMap>(plane: AssetPlane, namespace: string, obj: T): Promise<T> {
  const resource = obj.kind === 'ConfigMap' ? core.ConfigMap : core.PersistentVolumeClaim;
  return plane.client.applyObject({ ...obj, metadata: { ...obj.metadata, namespace } }).then(() => plane.client.get<T>(resource, obj.metadata!.name!, namespace));
}

const claim = (name: string, spec: V1PersistentVolumeClaim['spec'] = {}): V1PersistentVolumeClaim => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
});

/** Something in the consumer namespace for the shared claim to belong to (a workload in real use). */
const holder = (plane: AssetPlane, namespace: string, name: string) => createIn<V1ConfigMap>(plane, namespace, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } });

describe('shared claims on the real plane', () => {
  const plane = useAssetPlane('share-src');
  const consumers: string[] = [];
  const volumes: string[] = [];
  let source: V1PersistentVolumeClaim;

  beforeAll(async () => {
    for (const prefix of ['share-a', 'share-b']) consumers.push(await createTestNamespace(plane.kc, prefix));
    await createIn(plane, plane.namespace, claim('imagenet'));
    source = await eventually('source claim bound', async () => {
      const c = await claimIn(plane, plane.namespace, 'imagenet');
      return c?.status?.phase === 'Bound' ? c : undefined;
    });
  });

  afterAll(async () => {
    for (const ns of consumers) await deleteNamespace(plane.kc, ns);
    for (const name of volumes) await plane.client.deleteIgnoreNotFound({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name } });
  });

  it('makes a read-only pair for the very source claim, pre-bound to its own claim, and joins it again idempotently', async () => {
    const [consumer] = consumers as [string];
    const from = { namespace: plane.namespace, claimName: 'imagenet' };
    volumes.push(sharedVolumeName(consumer, from));
    const owner = await holder(plane, consumer, 'reader');

    const name = await ensureSharedClaim(plane, owner, from);
    expect(name).toBe(sharedClaimName(from));
    const pair = await eventually('shared claim bound', async () => {
      const c = await claimIn(plane, consumer, name);
      return c?.status?.phase === 'Bound' ? c : undefined;
    });
    expect(pair.metadata?.annotations).toMatchObject({ 'octopus.openi.pcl.cn/shared-from': `${plane.namespace}/imagenet`, 'octopus.openi.pcl.cn/shared-from-uid': source.metadata!.uid });
    expect(pair.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'ConfigMap', name: 'reader', uid: owner.metadata!.uid })]);
    const sourceVolume = (await volume(plane, source.spec!.volumeName!))!;
    const shared = (await volume(plane, pair.spec!.volumeName!))!;
    expect(shared.spec).toMatchObject({ hostPath: sourceVolume.spec!.hostPath, accessModes: ['ReadOnlyMany'], persistentVolumeReclaimPolicy: 'Retain' });
    // No class (the apiserver stores "" as absent): no provisioner may claim or delete it.
    expect(shared.spec?.storageClassName ?? '').toBe('');
    expect(shared.spec?.claimRef).toMatchObject({ namespace: consumer, name, uid: pair.metadata!.uid });

    expect(await ensureSharedClaim(plane, owner, from)).toBe(name);
    expect((await claimIn(plane, consumer, name))?.metadata?.ownerReferences).toHaveLength(1);
  });

  it('never adopts a claim someone made under the shared name, even with copied labels and annotations', async () => {
    const [, consumer] = consumers as [string, string];
    const from = { namespace: plane.namespace, claimName: 'imagenet' };
    const name = sharedClaimName(from);
    volumes.push(sharedVolumeName(consumer, from));
    await createIn(plane, consumer, {
      ...claim(name, { storageClassName: '', volumeName: sharedVolumeName(consumer, from) }),
      metadata: { name, labels: { 'octopus.openi.pcl.cn/shared-claim': 'true' }, annotations: { 'octopus.openi.pcl.cn/shared-from': `${plane.namespace}/imagenet` } },
    });
    const owner = await holder(plane, consumer, 'reader');

    const refused = await ensureSharedClaim(plane, owner, from).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(ShareError);
    expect((refused as Error).message).toBe(`claim ${name} in namespace ${consumer} was not made by Octopus for claim ${plane.namespace}/imagenet; it is not adopted (delete or rename it)`);
    // Not joined, and no volume for it to bind.
    expect((await claimIn(plane, consumer, name))?.metadata?.ownerReferences).toBeUndefined();
    expect(await volume(plane, sharedVolumeName(consumer, from))).toBeUndefined();
  });

  it('shares no claim bound to a volume the source workspace does not allow', async () => {
    const [consumer] = consumers as [string];
    const pvName = `static-${plane.namespace}`;
    volumes.push(pvName);
    await plane.client.applyObject<V1PersistentVolume>({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', hostPath: { path: '/tmp/octopus-local/static/other-tenant' } },
    });
    await createIn(plane, plane.namespace, claim('borrowed', { storageClassName: '', volumeName: pvName }));
    await eventually('borrowed claim bound', async () => ((await claimIn(plane, plane.namespace, 'borrowed'))?.status?.phase === 'Bound' ? true : undefined));
    const from = { namespace: plane.namespace, claimName: 'borrowed' };
    const owner = await holder(plane, consumer, 'borrower');

    await expect(ensureSharedClaim(plane, owner, from)).rejects.toThrow(
      `claim ${plane.namespace}/borrowed is not shared: PersistentVolume ${pvName}: host path /tmp/octopus-local/static/other-tenant is not allowed in namespace ${plane.namespace}, which no Workspace owns (nothing is allowed there)`,
    );
    expect(await claimIn(plane, consumer, sharedClaimName(from))).toBeUndefined();
    expect(await volume(plane, sharedVolumeName(consumer, from))).toBeUndefined();
  });

  it("uses a workload's own claim, never one of the same name it does not own", async () => {
    const [consumer] = consumers as [string];
    const owner = await holder(plane, consumer, 'train');
    const own = { ...claim('train-output'), metadata: { name: 'train-output', namespace: consumer, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'train', uid: owner.metadata!.uid! }] } };
    await ensureOwnClaim(plane, owner, own);
    await ensureOwnClaim(plane, owner, own);
    expect((await claimIn(plane, consumer, 'train-output'))?.metadata?.ownerReferences?.[0]?.uid).toBe(owner.metadata!.uid);

    await createIn(plane, consumer, claim('planted-output'));
    const other = await holder(plane, consumer, 'planted');
    const wanted = { ...claim('planted-output'), metadata: { name: 'planted-output', namespace: consumer, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'planted', uid: other.metadata!.uid! }] } };
    await expect(ensureOwnClaim(plane, other, wanted)).rejects.toThrow(`PersistentVolumeClaim planted-output already exists in namespace ${consumer} and is not this ConfigMap's; it is not used`);
    expect((await claimIn(plane, consumer, 'planted-output'))?.metadata?.ownerReferences).toBeUndefined();
  });
});
