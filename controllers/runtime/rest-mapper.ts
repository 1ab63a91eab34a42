import { isNotFound } from './errors.js';
import { groupOf, type ResourceRef } from './resource.js';
import type { Requester } from './rest.js';

interface APIResourceList {
  resources?: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * Finds the REST resource of an `apiVersion` + `kind` through API discovery, so objects can be
 * written without the caller spelling out their plural. Each group-version is fetched once; a kind
 * not found is looked up once more, since its CRD may have been installed since.
 */
export class RestMapper {
  private readonly rest: Requester;
  private readonly discovered = new Map<string, Promise<APIResourceList>>();

  constructor(rest: Requester) {
    this.rest = rest;
  }

  async resourceFor(apiVersion: string, kind: string): Promise<ResourceRef> {
    const find = (list: APIResourceList | undefined) => list?.resources?.find((r) => r.kind === kind && !r.name.includes('/'));
    const resource = find(await this.discover(apiVersion, false)) ?? find(await this.discover(apiVersion, true));
    if (!resource) throw new Error(`the apiserver serves no kind ${kind} in ${apiVersion}`);
    const slash = apiVersion.indexOf('/');
    return { group: groupOf(apiVersion), version: apiVersion.slice(slash + 1), plural: resource.name, kind, namespaced: resource.namespaced };
  }

  private async discover(apiVersion: string, refresh: boolean): Promise<APIResourceList | undefined> {
    let list = this.discovered.get(apiVersion);
    if (!list || refresh) {
      list = this.rest.request<APIResourceList>({ method: 'GET', path: apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}` });
      this.discovered.set(apiVersion, list);
      // A failed lookup must not stay cached.
      list.catch(() => this.discovered.delete(apiVersion));
    }
    try {
      return await list;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new Error(`API discovery of ${apiVersion} failed`, { cause: err });
    }
  }
}
