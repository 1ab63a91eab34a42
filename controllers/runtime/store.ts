import type { KubernetesObject } from '@kubernetes/client-node';
import { objectKey } from './resource.js';

/** The values an object is found under in an index, e.g. the names of the nodes a pod uses. */
export type IndexFunc<T> = (obj: T) => readonly string[];

interface Index<T> {
  readonly fn: IndexFunc<T>;
  readonly keysByValue: Map<string, Set<string>>;
}

/**
 * The informer's in-memory copy of a resource, keyed `namespace/name` (or `name`), with secondary
 * indexes. Objects handed out are the cached ones: treat them as read-only and copy
 * (`structuredClone`) before changing them.
 */
export class ObjectStore<T extends KubernetesObject> {
  private readonly objects = new Map<string, T>();
  /** Keys per namespace, so that one namespace's objects are found without scanning them all. */
  private readonly keysByNamespace = new Map<string, Set<string>>();
  private readonly indexes = new Map<string, Index<T>>();

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  /** Every object, or those of one namespace. */
  list(namespace?: string): T[] {
    if (namespace === undefined) return [...this.objects.values()];
    return this.lookup(this.keysByNamespace.get(namespace));
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  get size(): number {
    return this.objects.size;
  }

  /** Adds an index; objects already stored are indexed at once. Names are unique. */
  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.indexes.has(name)) throw new Error(`index ${name} already exists`);
    const index: Index<T> = { fn, keysByValue: new Map() };
    this.indexes.set(name, index);
    for (const [key, obj] of this.objects) addToIndex(index, key, obj);
  }

  /** Objects whose index function returned `value`. */
  byIndex(name: string, value: string): T[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no index named ${name}`);
    return this.lookup(index.keysByValue.get(value));
  }

  private lookup(keys: ReadonlySet<string> | undefined): T[] {
    const out: T[] = [];
    if (keys) for (const key of keys) out.push(this.objects.get(key)!);
    return out;
  }

  /** Stores `obj`, returning the object it replaced. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const previous = this.objects.get(key);
    if (previous) for (const index of this.indexes.values()) removeFromIndex(index, key, previous);
    this.objects.set(key, obj);
    const namespace = obj.metadata?.namespace;
    if (!previous && namespace !== undefined) addKey(this.keysByNamespace, namespace, key);
    for (const index of this.indexes.values()) addToIndex(index, key, obj);
    return previous;
  }

  /** Removes the object under `key`, returning it. */
  remove(key: string): T | undefined {
    const previous = this.objects.get(key);
    if (!previous) return undefined;
    this.objects.delete(key);
    const namespace = previous.metadata?.namespace;
    if (namespace !== undefined) removeKey(this.keysByNamespace, namespace, key);
    for (const index of this.indexes.values()) removeFromIndex(index, key, previous);
    return previous;
  }
}

function addKey(keysByValue: Map<string, Set<string>>, value: string, key: string): void {
  let keys = keysByValue.get(value);
  if (!keys) keysByValue.set(value, (keys = new Set()));
  keys.add(key);
}

function removeKey(keysByValue: Map<string, Set<string>>, value: string, key: string): void {
  const keys = keysByValue.get(value);
  keys?.delete(key);
  if (keys?.size === 0) keysByValue.delete(value);
}

function addToIndex<T>(index: Index<T>, key: string, obj: T): void {
  for (const value of index.fn(obj)) addKey(index.keysByValue, value, key);
}

function removeFromIndex<T>(index: Index<T>, key: string, obj: T): void {
  for (const value of index.fn(obj)) removeKey(index.keysByValue, value, key);
}
