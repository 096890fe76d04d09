/**
 * A reverse proxy on one loopback host and port that routes by path prefix to upstream servers, as an API
 * gateway does: `http://127.0.0.1:<port>/route-a/v1/...` goes to route-a's upstream as `/v1/...`. Two base
 * URLs on it share a host and port but not an upstream.
 */
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Gateway {
  /** The base URL of a route, ending in /v1: `http://127.0.0.1:<port>/<route>/v1`. */
  url(route: string): string;
  close(): Promise<void>;
}

/** `routes`: route name -> the upstream's base URL (its origin is used; the rest of the path is kept). */
export async function startGateway(routes: Record<string, string>): Promise<Gateway> {
  const server = createServer((req, res) => {
    const [, route, ...rest] = (req.url ?? '/').split('/');
    const upstream = route === undefined ? undefined : routes[route];
    if (!upstream) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${route}`, type: 'invalid_request_error' } }));
      return;
    }
    const target = new URL(`/${rest.join('/')}`, upstream);
    const forwarded = request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: (route) => `http://127.0.0.1:${port}/${route}/v1`,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
