/** Clean-up for integration tests that register webhook configurations. */
import type { AdmissionregistrationV1Api } from '@kubernetes/client-node';

export function ignoreNotFound(err: { code?: number }): void {
  if (err.code !== 404) throw err;
}

/** Deletes the Validating- and MutatingWebhookConfiguration called `name`, whichever exist. */
export async function deleteWebhookConfigurations(api: AdmissionregistrationV1Api, name: string): Promise<void> {
  await api.deleteValidatingWebhookConfiguration({ name }).catch(ignoreNotFound);
  await api.deleteMutatingWebhookConfiguration({ name }).catch(ignoreNotFound);
}
