import type { Method, Requester, RestRequest } from '../rest.js';

/** Passes requests to the real client, counting them by method. */
export class CountingRequester implements Requester {
  readonly counts: Record<Method, number> = { GET: 0, POST: 0, PUT: 0, PATCH: 0, DELETE: 0 };

  constructor(private readonly inner: Requester) {}

  request<T>(req: RestRequest): Promise<T> {
    this.counts[req.method]++;
    return this.inner.request<T>(req);
  }
}
