import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolveTool, stagingModules } from './tools.js';
import { toolsDir } from './versions.js';

describe('stagingModules', () => {
  it('reads only the ./staging replacements of k8s.io/kubernetes go.mod', () => {
    const goMod = [
      'module k8s.io/kubernetes',
      'require (',
      '\tk8s.io/api v0.0.0',
      ')',
      'replace (',
      '\tk8s.io/api => ./staging/src/k8s.io/api',
      '\tk8s.io/client-go => ./staging/src/k8s.io/client-go',
      '\tgithub.com/foo/bar => github.com/foo/bar v1.2.3',
      ')',
    ].join('\n');
    expect(stagingModules(goMod)).toEqual(['k8s.io/api', 'k8s.io/client-go']);
  });

  it('returns nothing for a go.mod without staging replacements', () => {
    expect(stagingModules('module x\n\ngo 1.24\n')).toEqual([]);
  });
});

describe('resolveTool', () => {
  const withBinary = (tool: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'octopus-bin-'));
    writeFileSync(join(dir, tool), '#!/bin/sh\n');
    chmodSync(join(dir, tool), 0o755);
    return dir;
  };

  it.each([
    { name: 'OCTOPUS_K8S_BIN wins over the cache', variable: 'OCTOPUS_K8S_BIN' },
    { name: 'KUBEBUILDER_ASSETS wins over the cache', variable: 'KUBEBUILDER_ASSETS' },
  ])('$name', ({ variable }) => {
    const dir = withBinary('etcd');
    expect(resolveTool('etcd', { [variable]: dir, OCTOPUS_TOOLS_DIR: '/nonexistent' })).toBe(join(dir, 'etcd'));
  });

  it('falls back to the cache when a folder lacks the tool', () => {
    const dir = withBinary('etcd');
    const env = { OCTOPUS_K8S_BIN: dir, OCTOPUS_TOOLS_DIR: '/cache' };
    expect(resolveTool('kwok', env)).toBe('/cache/bin/kwok');
  });

  it('keys the default cache by every pinned version', () => {
    expect(toolsDir({ XDG_CACHE_HOME: '/c' })).toMatch(/^\/c\/octopus\/k8s-v1\.33\.\d+_etcd-v3\.5\.\d+_kwok-v0\.7\.\d+_helm-v3\.\d+\.\d+_r\d+$/);
  });
});
