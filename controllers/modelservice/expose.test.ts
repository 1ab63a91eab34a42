import { describe, expect, it } from '@jest/globals';
import { desiredIngress, desiredService, serviceUrl, type IngressSpec } from './expose.js';

const owner = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Notebook', metadata: { name: 'dev', namespace: 'team-a', uid: 'uid-1' } };

describe('serviceUrl', () => {
  it.each([
    { name: 'no ingress: the in-cluster Service name', ingress: undefined, want: 'http://dev.team-a.svc/' },
    { name: 'an ingress that is off', ingress: { enabled: false }, want: 'http://dev.team-a.svc/' },
    { name: 'the default host under the ingress domain', ingress: { enabled: true }, want: 'http://dev.team-a.octopus.example/' },
    { name: 'a host and path given', ingress: { enabled: true, host: 'lab.example.com', path: '/alice' }, want: 'http://lab.example.com/alice' },
  ])('$name', ({ ingress, want }) => {
    expect(serviceUrl(owner, ingress as IngressSpec | undefined, 'octopus.example')).toBe(want);
  });
});

describe('desiredService and desiredIngress', () => {
  const labels = { 'octopus.openi.pcl.cn/notebook': 'dev' };

  it('forwards port 80 to the pods\' http port, owned by the workload', () => {
    const svc = desiredService(owner, labels, labels);
    expect(svc.metadata).toEqual({ name: 'dev', namespace: 'team-a', labels, ownerReferences: [{ apiVersion: owner.apiVersion, kind: 'Notebook', name: 'dev', uid: 'uid-1', controller: true, blockOwnerDeletion: true }] });
    expect(svc.spec).toEqual({ selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] });
  });

  it.each([
    { name: 'defaults', ingress: { enabled: true }, wantClass: undefined, wantHost: 'dev.team-a.octopus.example', wantPath: '/' },
    { name: 'a class, host and path', ingress: { enabled: true, className: 'nginx', host: 'lab.example.com', path: '/alice' }, wantClass: 'nginx', wantHost: 'lab.example.com', wantPath: '/alice' },
  ])('routes the host and path prefix to the Service: $name', ({ ingress, wantClass, wantHost, wantPath }) => {
    const ing = desiredIngress(owner, labels, ingress, 'octopus.example');
    expect(ing.spec?.ingressClassName).toBe(wantClass);
    expect(ing.spec?.rules).toEqual([{ host: wantHost, http: { paths: [{ path: wantPath, pathType: 'Prefix', backend: { service: { name: 'dev', port: { name: 'http' } } } }] } }]);
  });
});
