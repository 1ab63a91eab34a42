/**
 * Workspace members become RoleBinding subjects. The schema requires a name, a namespace exactly for
 * ServiceAccounts, and a known kind; what it leaves to code: a ServiceAccount name must be one Kubernetes
 * accepts (an RFC 1123 subdomain, as for any ServiceAccount), a name must not be blank, and a subject
 * appears once — two entries would bind two roles and hide which one was meant.
 */
import type { Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { dns1123SubdomainPattern } from '../../apis/octopus.openi.pcl.cn/v1alpha1/schema.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';

const subdomain = new RegExp(dns1123SubdomainPattern);

export const validateMembers: Check<Workspace> = (ctx) => {
  const errors: FieldError[] = [];
  const seen = new Map<string, number>();
  (ctx.object.spec.members ?? []).forEach((m, i) => {
    const kind = m.kind ?? 'User';
    const shown = JSON.stringify(m.name);
    if (m.name.trim() === '') errors.push({ path: `spec.members[${i}].name`, message: `Invalid value: ${shown}: must not be blank` });
    else if (kind === 'ServiceAccount' && !subdomain.test(m.name)) {
      errors.push({ path: `spec.members[${i}].name`, message: `Invalid value: ${shown}: a ServiceAccount name must consist of lower case alphanumeric characters, '-' or '.', e.g. ci-bot` });
    }
    const subject = kind === 'ServiceAccount' ? `ServiceAccount ${m.namespace ?? ''}/${m.name}` : `${kind} ${m.name}`;
    const first = seen.get(subject);
    if (first === undefined) seen.set(subject, i);
    else errors.push({ path: `spec.members[${i}]`, message: `Duplicate value: ${subject} is already spec.members[${first}]; give each member one role` });
  });
  return { errors };
};
