import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { createTestNamespace, deleteNamespace, testKubeConfig } from '../../../e2e/harness/kube.js';

export interface TestPlane {
  kc: KubeConfig;
  namespace: string;
}

/** The suite's kubeconfig and a namespace of its own, filled in before the first test and deleted after the last. */
export function useTestNamespace(prefix: string): TestPlane {
  const plane = {} as TestPlane;
  beforeAll(async () => {
    plane.kc = testKubeConfig();
    plane.namespace = await createTestNamespace(plane.kc, prefix);
  });
  afterAll(async () => {
    await deleteNamespace(plane.kc, plane.namespace);
  });
  return plane;
}

/** A list to push what a test starts into; everything in it is stopped after each test. */
export function stopAfterEach<T extends { stop(): Promise<void> }>(): T[] {
  const running: T[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((item) => item.stop()));
  });
  return running;
}
