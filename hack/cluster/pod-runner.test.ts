import { describe, expect, it } from '@jest/globals';
import { containerEnv, goDurationMs, hostCommand, hostPath, simulation, terminationMessage } from './pod-runner.js';

const mounts = new Map([
  ['/data', '/host/vol-1'],
  ['/data/cache', '/host/vol-2'],
]);

describe('hostCommand', () => {
  it('runs octopus-data from this checkout with its node flags', () => {
    const got = hostCommand({ command: ['octopus-data'], args: ['import'] }, 'file:///tsx');
    expect(got).toEqual([process.execPath, '--max-old-space-size=96', '--import', 'file:///tsx', expect.stringMatching(/controllers\/octopus-data\/main\.ts$/), 'import']);
  });

  it.each([{ command: ['rclone', 'copy'] }, {}])('refuses anything else: %j', (container) => {
    expect(hostCommand(container, 'x')).toEqual({ error: expect.stringContaining('runs only octopus-data') });
  });
});

describe('hostPath', () => {
  it.each([
    ['/data', '/host/vol-1'],
    ['/data/x/y', '/host/vol-1/x/y'],
    ['/data/cache/z', '/host/vol-2/z'],
    ['/database', '/database'],
    ['/tmp', '/tmp'],
  ])('%s → %s', (path, want) => expect(hostPath(path, mounts)).toBe(want));
});

describe('containerEnv', () => {
  const secrets = new Map([['s3', { accessKeyID: Buffer.from('AK').toString('base64') }]]);
  it('maps paths under mounts, reads secretKeyRef, skips a missing optional key', () => {
    const env = containerEnv(
      [
        { name: 'OCTOPUS_IMPORT_DESTINATION', value: '/data' },
        { name: 'OCTOPUS_IMPORT_BUCKET', value: 'b' },
        { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3', key: 'accessKeyID' } } },
        { name: 'GIT_PASSWORD', valueFrom: { secretKeyRef: { name: 's3', key: 'password', optional: true } } },
      ],
      secrets,
      mounts,
    );
    expect(env).toEqual({ OCTOPUS_IMPORT_DESTINATION: '/host/vol-1', OCTOPUS_IMPORT_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'AK' });
  });

  it.each([
    { name: 'a missing key', ref: { name: 's3', key: 'secretAccessKey' }, want: 'secret "s3" has no key "secretAccessKey"' },
    { name: 'a missing Secret', ref: { name: 'gone', key: 'k' }, want: 'secret "gone" not found' },
  ])('refuses to start on $name, as the kubelet does', ({ ref, want }) => {
    expect(containerEnv([{ name: 'X', valueFrom: { secretKeyRef: ref } }], new Map([['s3', {}], ['gone', undefined]]), mounts)).toEqual({ error: want });
  });
});

describe('terminationMessage', () => {
  it.each([
    { name: 'the file when written', file: '{"files":1}', log: 'l', code: 0, policy: 'FallbackToLogsOnError', want: '{"files":1}' },
    { name: 'the log tail on a failure without a file', file: '', log: 'a\nb', code: 1, policy: 'FallbackToLogsOnError', want: 'a\nb' },
    { name: 'nothing on success without a file', file: '', log: 'a', code: 0, policy: 'FallbackToLogsOnError', want: '' },
    { name: 'nothing without the fallback policy', file: '', log: 'a', code: 1, policy: 'File', want: '' },
  ])('$name', ({ file, log, code, policy, want }) => expect(terminationMessage(file, log, code, policy)).toBe(want));
});

describe('simulation', () => {
  it.each([
    { annotations: undefined, want: undefined },
    { annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed' }, want: { outcome: 'Succeed', afterMs: 1000, exitCode: 1, message: '' } },
    {
      annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Fail', 'sim.octopus.openi.pcl.cn/duration': '1m30s', 'sim.octopus.openi.pcl.cn/exit-code': '3', 'sim.octopus.openi.pcl.cn/message': 'no' },
      want: { outcome: 'Fail', afterMs: 90_000, exitCode: 3, message: 'no' },
    },
    { annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Forever' }, want: { outcome: 'Run', afterMs: 1000, exitCode: 1, message: '' } },
  ] as { annotations?: Record<string, string>; want: unknown }[])('$annotations', ({ annotations, want }) => expect(simulation(annotations)).toEqual(want));

  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1h', 3_600_000],
    ['soon', undefined],
    ['', undefined],
  ])('Go duration %j is %s ms', (text, want) => expect(goDurationMs(text)).toBe(want));
});
