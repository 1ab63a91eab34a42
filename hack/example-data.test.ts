import { describe, expect, it } from '@jest/globals';
import { planeS3Sources, sampleObjects } from './example-data.js';

const dataset = (s3: Record<string, unknown>) => ({ apiVersion: 'x', kind: 'Dataset', metadata: { name: 'd', namespace: 'n' }, spec: { versions: [{ name: 'v1', source: { s3 } }] } });

describe('planeS3Sources', () => {
  it.each([
    { name: 'a source on the default store, with its Secret', doc: dataset({ bucket: 'datasets', prefix: 'p/', secretRef: { name: 's' } }), want: [{ bucket: 'datasets', prefix: 'p/', secret: 's' }] },
    { name: 'a source with its own endpoint is not the plane’s', doc: dataset({ endpoint: 'https://s3.example.com', bucket: 'b' }), want: [] },
    { name: 'another kind', doc: { ...dataset({ bucket: 'b' }), kind: 'Job' }, want: [] },
  ])('$name', ({ doc, want }) => expect(planeS3Sources(doc)).toEqual(want));
});

describe('sampleObjects', () => {
  it('is the same bytes every time, under the prefix', () => {
    const a = sampleObjects('x/');
    expect(a).toHaveLength(61);
    expect(a.every((o) => o.key.startsWith('x/'))).toBe(true);
    expect(sampleObjects('x/').map((o) => o.body.toString('hex'))).toEqual(a.map((o) => o.body.toString('hex')));
  });
});
