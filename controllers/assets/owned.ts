/** Children an asset owns: their labels, their owner reference, and who holds a name when it is not the asset. */
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import { controllerOf, controllerReference } from '../runtime/index.js';
import { assetAnnotations, assetLabels, managedByValue } from './names.js';

/** The labels every child of an asset carries; informers select children on the kind label. */
export function childLabels(kind: string, version?: string): Record<string, string> {
  return { [assetLabels.managedBy]: managedByValue, [assetLabels.kind]: kind, ...(version !== undefined && { [assetLabels.version]: version }) };
}

/** An asset (or Image) read from the apiserver. */
export interface Owner {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
}

/** Metadata of a namespaced child the asset controls: garbage collection removes it with the asset. */
export function ownedMetadata(owner: Owner, name: string, labels: Record<string, string>): V1ObjectMeta {
  return { name, namespace: owner.metadata.namespace!, labels, ownerReferences: [controllerReference(owner)] };
}

/**
 * Who holds a name the asset wants for a child, when it is not the asset itself: an earlier asset
 * of the same kind and name whose children garbage collection has not removed yet, or anyone else.
 */
export function holderOf(obj: KubernetesObject | undefined, asset: Owner): { earlier: boolean; holder: string } | undefined {
  if (!obj) return undefined;
  const ref = controllerOf(obj);
  // Volumes cannot carry owner references; their labels name the owner.
  const ownerUid = ref?.uid ?? obj.metadata?.labels?.[assetLabels.ownerUid];
  if (ownerUid !== undefined && ownerUid === asset.metadata.uid) return undefined;
  const ownerKind = ref?.kind ?? obj.metadata?.labels?.[assetLabels.kind];
  const ownerName = ref?.name ?? obj.metadata?.annotations?.[assetAnnotations.owner]?.split('/')[1];
  const earlier = ownerUid !== undefined && ownerKind === asset.kind && ownerName === asset.metadata.name;
  return { earlier, holder: ownerKind && ownerName ? `${ownerKind} ${ownerName}` : 'another owner' };
}
