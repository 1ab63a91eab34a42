import { ApiException, HttpMethod, ServerConfiguration, createConfiguration, type Configuration, type KubeConfig } from '@kubernetes/client-node';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RestRequest {
  readonly method: Method;
  /** From `resourcePath()`, e.g. `/api/v1/namespaces/default/configmaps`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** @default application/json; patches pass a `PatchStrategy`. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

/** What the runtime needs from the apiserver; an interface so tests can cut the connection. */
export interface Requester {
  request<T>(req: RestRequest): Promise<T>;
}

const httpMethods: Record<Method, HttpMethod> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  PATCH: HttpMethod.PATCH,
  DELETE: HttpMethod.DELETE,
};

/**
 * JSON over the kubeconfig's connection, by path. The typed clients of client-node cover only
 * built-in kinds (and `CustomObjectsApi` only non-core groups), and their serializers drop fields
 * they do not know; one raw path serves core, built-in and custom resources alike. Errors are
 * client-node's `ApiException`, so the same predicates (`isNotFound`, …) apply everywhere.
 */
export class RestClient implements Requester {
  private readonly configuration: Configuration;

  constructor(kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
    });
  }

  async request<T>(req: RestRequest): Promise<T> {
    const what = `${req.method} ${req.path}`;
    const context = this.configuration.baseServer.makeRequestContext(req.path, httpMethods[req.method]);
    for (const [name, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) context.setQueryParam(name, String(value));
    }
    context.setHeaderParam('Accept', 'application/json');
    if (req.body !== undefined) {
      context.setHeaderParam('Content-Type', req.contentType ?? 'application/json');
      context.setBody(JSON.stringify(req.body));
    }
    if (req.signal) context.setSignal(req.signal);
    let status: number;
    let headers: Record<string, string>;
    let text: string;
    try {
      await this.configuration.authMethods.default?.applySecurityAuthentication(context);
      const response = await this.configuration.httpApi.send(context).toPromise();
      status = response.httpStatusCode;
      headers = response.headers;
      text = await response.body.text();
    } catch (err) {
      throw new Error(`${what} failed`, { cause: err });
    }
    const body = parseJson(text);
    if (status < 200 || status > 299) {
      const message = (body as { message?: unknown } | undefined)?.message;
      throw new ApiException(status, `${what}: HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}`, body, headers);
    }
    return body as T;
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
