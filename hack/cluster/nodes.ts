import type { V1Node } from '@kubernetes/client-node';

/** The label that ties a node to an Octopus ResourcePool (the seed chart's `Common.resourceTagKey`). */
export const resourceTagKey = 'octopus.pcl.ac.cn/resource';

/** kwok manages only nodes carrying this annotation (see `--manage-nodes-with-annotation-selector`). */
export const kwokNodeAnnotation = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;

export type NodeClass = 'cpu' | 'gpu' | 'npu';

interface NodeShape {
  resourceTag: string;
  capacity: Record<string, string>;
  labels: Record<string, string>;
}

const shapes: Record<NodeClass, NodeShape> = {
  cpu: {
    resourceTag: 'cpu',
    capacity: { cpu: '32', memory: '128Gi', 'ephemeral-storage': '1Ti', pods: '110' },
    labels: { 'node.kubernetes.io/instance-type': 'sim.cpu-32' },
  },
  gpu: {
    resourceTag: 'gpu-a100',
    capacity: { cpu: '64', memory: '512Gi', 'ephemeral-storage': '4Ti', pods: '110', 'nvidia.com/gpu': '8' },
    labels: {
      'node.kubernetes.io/instance-type': 'sim.gpu-8xa100',
      'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB',
      'nvidia.com/gpu.count': '8',
    },
  },
  npu: {
    resourceTag: 'npu-910',
    capacity: { cpu: '192', memory: '1024Gi', 'ephemeral-storage': '4Ti', pods: '110', 'huawei.com/Ascend910': '8' },
    labels: { 'node.kubernetes.io/instance-type': 'sim.npu-8x910', 'accelerator': 'huawei-Ascend910' },
  },
};

export interface NodeOptions {
  /** Overrides the resource tag value, e.g. to put benchmark nodes in their own pool. */
  resourceTag?: string;
  /** Prefix of the node name; defaults to `kwok-<class>`. */
  namePrefix?: string;
}

/** A kwok-managed node of the given class, ready to create. */
export function simulatedNode(nodeClass: NodeClass, index: number, opts: NodeOptions = {}): V1Node {
  const shape = shapes[nodeClass];
  const name = `${opts.namePrefix ?? `kwok-${nodeClass}`}-${index}`;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation.key]: kwokNodeAnnotation.value, 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/os': 'linux',
        'kubernetes.io/hostname': name,
        type: 'kwok',
        [resourceTagKey]: opts.resourceTag ?? shape.resourceTag,
        ...shape.labels,
      },
    },
    spec: {},
    status: {
      capacity: { ...shape.capacity },
      allocatable: { ...shape.capacity },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'kwok',
        kubeProxyVersion: 'kwok',
        containerRuntimeVersion: 'kwok',
        kernelVersion: 'kwok',
        osImage: 'kwok',
        machineID: name,
        systemUUID: name,
        bootID: name,
      },
    },
  };
}

export interface NodeCounts {
  cpu: number;
  gpu: number;
  npu: number;
}

export const defaultNodeCounts: NodeCounts = { cpu: 2, gpu: 4, npu: 2 };

export function simulatedNodes(counts: NodeCounts): V1Node[] {
  const nodes: V1Node[] = [];
  for (const nodeClass of ['cpu', 'gpu', 'npu'] as const) {
    for (let i = 0; i < counts[nodeClass]; i++) nodes.push(simulatedNode(nodeClass, i));
  }
  return nodes;
}
