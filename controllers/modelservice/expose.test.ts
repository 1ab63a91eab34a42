import { describe, expect, it } from '@jest/globals';
import type { V1Ingress } from '@kubernetes/client-node';
import { desiredIngress, desiredService, hostGranted, hostRefusal, ingressHost, normalizedPath, routes, serviceUrl, type IngressSpec } from './expose.js';

const owner = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Notebook', metadata: { name: 'dev', namespace: 'team-a', uid: 'uid-1' } };
const named = (name: string, namespace = 'team-a') => ({ ...owner, metadata: { ...owner.metadata, name, namespace } });

describe('serviceUrl', () => {
  it.each([
    { name: 'no ingress: the in-cluster Service name', ingress: undefined, want: 'http://dev.team-a.svc/' },
    { name: 'an ingress that is off', ingress: { enabled: false }, want: 'http://dev.team-a.svc/' },
    { name: 'the derived host: name and namespace in one label under the domain', ingress: { enabled: true }, want: 'http://dev-team-a.octopus.example/' },
    { name: 'a host and path given', ingress: { enabled: true, host: 'lab.example.com', path: '/alice' }, want: 'http://lab.example.com/alice' },
  ])('$name', ({ ingress, want }) => {
    expect(serviceUrl(owner, ingress as IngressSpec | undefined, 'octopus.example')).toBe(want);
  });
});

describe('hostGranted', () => {
  it.each([
    { name: 'nothing granted', host: 'a.example.com', grants: [], want: false },
    { name: 'an exact host', host: 'models.team-a.example.com', grants: ['models.team-a.example.com'], want: true },
    { name: 'an exact host grants no subdomain of it', host: 'x.models.team-a.example.com', grants: ['models.team-a.example.com'], want: false },
    { name: 'a suffix grants hosts under it', host: 'x.team-a.example.com', grants: ['.team-a.example.com'], want: true },
    { name: 'a suffix grants deeper hosts too', host: 'a.b.team-a.example.com', grants: ['.team-a.example.com'], want: true },
    { name: 'a suffix matches whole labels only', host: 'xteam-a.example.com', grants: ['.team-a.example.com'], want: false },
    { name: 'a suffix does not grant the bare domain', host: 'team-a.example.com', grants: ['.team-a.example.com'], want: false },
    { name: 'any entry may grant', host: 'b.example.org', grants: ['a.example.org', '.example.org'], want: true },
  ])('$name', ({ host, grants, want }) => {
    expect(hostGranted(host, grants)).toBe(want);
  });
});

describe('hostRefusal', () => {
  const domain = 'platform.example.com';
  it.each([
    { name: 'the derived host is always allowed', who: owner, ingress: { enabled: true }, grants: undefined, want: undefined },
    { name: 'naming the derived host explicitly is allowed', who: owner, ingress: { enabled: true, host: 'dev-team-a.platform.example.com' }, grants: undefined, want: undefined },
    {
      name: 'a platform host is refused without a grant',
      who: owner,
      ingress: { enabled: true, host: 'console.example.com' },
      grants: undefined,
      want: { path: 'spec.ingress.host', message: 'console.example.com is not allowed in workspace team-a (its spec.hosts grants no host; the derived host is dev-team-a.platform.example.com)' },
    },
    {
      name: 'a host the workspace does not grant names what it grants',
      who: owner,
      ingress: { enabled: true, host: 'lab.other.com' },
      grants: ['lab.example.com', '.team-a.example.com'],
      want: { path: 'spec.ingress.host', message: 'lab.other.com is not allowed in workspace team-a (its spec.hosts grants only lab.example.com, .team-a.example.com; the derived host is dev-team-a.platform.example.com)' },
    },
    { name: 'a granted exact host', who: owner, ingress: { enabled: true, host: 'lab.example.com' }, grants: ['lab.example.com'], want: undefined },
    { name: 'a host under a granted suffix', who: owner, ingress: { enabled: true, host: 'x.team-a.example.com' }, grants: ['.team-a.example.com'], want: undefined },
    {
      name: "another workload's derived host under the platform domain, even when granted",
      who: owner,
      ingress: { enabled: true, host: 'serve-team-b.platform.example.com' },
      grants: ['.platform.example.com'],
      want: { path: 'spec.ingress.host', message: "serve-team-b.platform.example.com is not allowed in workspace team-a (hosts under the platform domain platform.example.com are only derived ones: this workload's is dev-team-a.platform.example.com)" },
    },
    {
      name: 'the platform domain itself',
      who: owner,
      ingress: { enabled: true, host: 'platform.example.com' },
      grants: ['platform.example.com'],
      want: { path: 'spec.ingress.host', message: "platform.example.com is not allowed in workspace team-a (hosts under the platform domain platform.example.com are only derived ones: this workload's is dev-team-a.platform.example.com)" },
    },
    {
      name: 'a name whose derived label would be longer than 63 characters',
      who: named('n'.repeat(60)),
      ingress: { enabled: true },
      grants: undefined,
      want: { path: 'metadata.name', message: `${'n'.repeat(60)} cannot be exposed: its derived host ${'n'.repeat(60)}-team-a.platform.example.com needs <name>-<namespace> to be one DNS label of at most 63 characters` },
    },
    {
      name: 'a dotted name, which would put the host under another derived one',
      who: named('x.serve'),
      ingress: { enabled: true },
      grants: undefined,
      want: { path: 'metadata.name', message: 'x.serve cannot be exposed: its derived host x.serve-team-a.platform.example.com needs <name>-<namespace> to be one DNS label of at most 63 characters' },
    },
  ])('$name', ({ who, ingress, grants, want }) => {
    expect(hostRefusal(who, ingress, domain, grants)).toEqual(want);
  });

  it('derives hosts that name the namespace, so none is the platform host of the same name', () => {
    expect(ingressHost(named('console'), { enabled: true }, domain)).toBe('console-team-a.platform.example.com');
  });
});

describe('routes and normalizedPath', () => {
  const ingress = (host: string, paths: string[]): V1Ingress => ({
    spec: { rules: [{ host, http: { paths: paths.map((path) => ({ path, pathType: 'Prefix', backend: { service: { name: 's', port: { number: 80 } } } })) } }] },
  });
  it.each([
    { name: 'the same host and path', ing: ingress('a.example.com', ['/']), host: 'a.example.com', path: '/', want: true },
    { name: 'a trailing slash does not count', ing: ingress('a.example.com', ['/api/']), host: 'a.example.com', path: normalizedPath('/api'), want: true },
    { name: 'another path on the same host', ing: ingress('a.example.com', ['/api']), host: 'a.example.com', path: '/', want: false },
    { name: 'another host', ing: ingress('b.example.com', ['/']), host: 'a.example.com', path: '/', want: false },
  ])('$name', ({ ing, host, path, want }) => {
    expect(routes(ing, host, path)).toBe(want);
  });

  it.each([
    { path: undefined, want: '/' },
    { path: '/', want: '/' },
    { path: '//', want: '/' },
    { path: '/a/b/', want: '/a/b' },
  ])('normalizes $path to $want', ({ path, want }) => {
    expect(normalizedPath(path)).toBe(want);
  });
});

describe('desiredService and desiredIngress', () => {
  const labels = { 'octopus.openi.pcl.cn/notebook': 'dev' };

  it("forwards port 80 to the pods' http port, owned by the workload", () => {
    const svc = desiredService(owner, labels, labels);
    expect(svc.metadata).toEqual({ name: 'dev', namespace: 'team-a', labels, ownerReferences: [{ apiVersion: owner.apiVersion, kind: 'Notebook', name: 'dev', uid: 'uid-1', controller: true, blockOwnerDeletion: true }] });
    expect(svc.spec).toEqual({ selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] });
  });

  it.each([
    { name: 'the derived host, the cluster default class', ingress: { enabled: true }, className: '', wantClass: undefined, wantHost: 'dev-team-a.octopus.example', wantPath: '/' },
    { name: "the platform's class, a host and path", ingress: { enabled: true, host: 'lab.example.com', path: '/alice' }, className: 'nginx', wantClass: 'nginx', wantHost: 'lab.example.com', wantPath: '/alice' },
  ])('routes the host and path prefix to the Service: $name', ({ ingress, className, wantClass, wantHost, wantPath }) => {
    const ing = desiredIngress(owner, labels, ingress, 'octopus.example', className);
    expect(ing.spec?.ingressClassName).toBe(wantClass);
    expect(ing.spec?.rules).toEqual([{ host: wantHost, http: { paths: [{ path: wantPath, pathType: 'Prefix', backend: { service: { name: 'dev', port: { name: 'http' } } } }] } }]);
  });
});
