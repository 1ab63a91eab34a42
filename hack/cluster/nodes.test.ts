import { describe, expect, it } from '@jest/globals';
import { kwokNodeAnnotation, resourceTagKey, simulatedNode, simulatedNodes } from './nodes.js';

describe('simulatedNode', () => {
  it.each([
    { nodeClass: 'cpu' as const, wantTag: 'cpu', wantDevice: undefined },
    { nodeClass: 'gpu' as const, wantTag: 'gpu-a100', wantDevice: ['nvidia.com/gpu', '8'] },
    { nodeClass: 'npu' as const, wantTag: 'npu-910', wantDevice: ['huawei.com/Ascend910', '8'] },
  ])('$nodeClass nodes carry the resource tag $wantTag and their device capacity', ({ nodeClass, wantTag, wantDevice }) => {
    const node = simulatedNode(nodeClass, 3);
    expect(node.metadata?.name).toBe(`kwok-${nodeClass}-3`);
    expect(node.metadata?.labels?.[resourceTagKey]).toBe(wantTag);
    expect(node.metadata?.annotations?.[kwokNodeAnnotation.key]).toBe(kwokNodeAnnotation.value);
    expect(node.status?.allocatable).toEqual(node.status?.capacity);
    const devices = Object.entries(node.status?.capacity ?? {}).filter(([k]) => k.includes('/'));
    expect(devices).toEqual(wantDevice ? [wantDevice] : []);
  });

  it('lets a benchmark put nodes in a pool of its own', () => {
    const node = simulatedNode('gpu', 0, { resourceTag: 'bench', namePrefix: 'bench-gpu' });
    expect(node.metadata?.name).toBe('bench-gpu-0');
    expect(node.metadata?.labels?.[resourceTagKey]).toBe('bench');
  });

  it('returns objects that do not share state', () => {
    const a = simulatedNode('gpu', 0);
    a.status!.capacity!['nvidia.com/gpu'] = '1';
    expect(simulatedNode('gpu', 0).status?.capacity?.['nvidia.com/gpu']).toBe('8');
  });
});

describe('simulatedNodes', () => {
  it('creates the requested count of each class with unique names', () => {
    const nodes = simulatedNodes({ cpu: 1, gpu: 3, npu: 2 });
    const names = nodes.map((n) => n.metadata?.name);
    expect(names).toEqual(['kwok-cpu-0', 'kwok-gpu-0', 'kwok-gpu-1', 'kwok-gpu-2', 'kwok-npu-0', 'kwok-npu-1']);
  });
});
