/**
 * Which kinds the chart registers webhooks for. The webhook process builds its registry from
 * live caches; the chart needs only the shape of it: every kind is validated, and namespaced
 * kinds are mutated (the workspace label). A unit test holds this to the process's registry.
 */
import { allKinds } from '../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { WebhookKind } from '../webhooks/registration.js';

export function webhookKinds(): { validated: WebhookKind[]; mutated: WebhookKind[] } {
  return {
    validated: [...allKinds],
    mutated: allKinds.filter((k) => k.scope === 'Namespaced'),
  };
}
