/**
 * The batch/v1 Jobs the asset controllers run (imports, builds): one container that runs to an
 * end, in a restricted pod. They run in users' namespaces, whose Pod Security Admission is
 * `restricted` by default, and must never give a user more power than creating the asset does.
 */
import type { V1Container, V1Job, V1PodFailurePolicy, V1Volume } from '@kubernetes/client-node';
import { assetAnnotations } from './names.js';
import { ownedMetadata, type Owner } from './owned.js';

export interface RunOnceJob {
  owner: Owner;
  name: string;
  labels: Record<string, string>;
  /** The user's labels and annotations for the pod; ours win over them. */
  podMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  backoffLimit: number;
  /** Failures that end the Job at once instead of being retried. */
  podFailurePolicy?: V1PodFailurePolicy;
  activeDeadlineSeconds?: number;
  runAsUser: number;
  /** Name, image, arguments, environment and mounts; the rest is set here. */
  container: V1Container;
  volumes: V1Volume[];
}

export function runOnceJob(job: RunOnceJob): V1Job {
  const { name, namespace } = job.owner.metadata;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: ownedMetadata(job.owner, job.name, job.labels),
    spec: {
      backoffLimit: job.backoffLimit,
      ...(job.podFailurePolicy && { podFailurePolicy: job.podFailurePolicy }),
      ...(job.activeDeadlineSeconds !== undefined && { activeDeadlineSeconds: job.activeDeadlineSeconds }),
      template: {
        metadata: {
          // Our labels select the pods and our annotation leads back to the asset: they must win.
          labels: { ...(job.podMetadata?.labels ?? {}), ...job.labels },
          annotations: { ...(job.podMetadata?.annotations ?? {}), [assetAnnotations.owner]: `${namespace}/${name}` },
        },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: job.runAsUser, runAsGroup: job.runAsUser, fsGroup: job.runAsUser, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              ...job.container,
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true },
              // The report is the termination message; a process that dies before writing one leaves its last log lines instead.
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
          volumes: job.volumes,
        },
      },
    },
  };
}
