/**
 * The daemon's HTTP server (node:http, no framework: a dozen routes): open
 * /metrics, /healthz and /readyz (unless http.protectMetrics), and the JSON
 * API under /api/v1, which needs a bearer token from http.tokenFile and
 * compares it in constant time. Restores stay on the CLI on purpose.
 *
 *   GET  /api/v1/sources                           sources, leadership, window
 *   GET  /api/v1/sources/:source/backups           committed backups with drill verdicts
 *   GET  /api/v1/sources/:source/drills            drill reports
 *   GET  /api/v1/sources/:source/window            restorable windows and gaps
 *   POST /api/v1/sources/:source/backups           trigger a backup: 202 {job}, 409 if one is queued or running
 *   POST /api/v1/sources/:source/drills            trigger a drill:  202 {job}, 409 likewise
 *   GET  /api/v1/jobs/:id                          a job's status
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { Registry } from 'prom-client';
import type { ApiToken } from '../config/secrets.js';

/** What the server needs from the daemon. */
export interface ApiBackend {
  registry: Registry;
  ready(): Promise<{ ready: boolean; [k: string]: unknown }>;
  /** Whether a source of that name is configured (every /sources/:source route 404s otherwise). */
  hasSource(name: string): boolean;
  sources(): Promise<unknown>;
  backups(source: string): Promise<unknown>;
  drills(source: string): Promise<unknown>;
  window(source: string): Promise<unknown>;
  trigger(source: string, kind: 'backup' | 'drill', actor: string): { status: 202 | 409 | 404 | 503; body: unknown };
  job(id: string): unknown;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The name of the token presented, or undefined; constant time per configured token. */
export function authenticate(header: string | undefined, tokens: ApiToken[]): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  const presented = digest(m?.[1] ?? '');
  let found: string | undefined;
  for (const t of tokens) if (timingSafeEqual(presented, digest(t.token)) && m) found ??= t.name;
  return found;
}

export interface HttpServerOptions {
  listen: string;
  tokens: ApiToken[];
  protectMetrics: boolean;
  backend: ApiBackend;
  log: Logger;
}

export class HttpServer {
  private server?: http.Server;

  constructor(private readonly o: HttpServerOptions) {}

  /** Listen; resolves with the bound address (port 0 picks a free one). */
  async start(): Promise<AddressInfo> {
    const i = this.o.listen.lastIndexOf(':');
    const host = this.o.listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const port = Number(this.o.listen.slice(i + 1));
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.o.log.error({ err, url: req.url }, 'HTTP handler failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections?.();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const b = this.o.backend;
    const open = p === '/metrics' || p === '/healthz' || p === '/readyz';
    const who = authenticate(req.headers.authorization, this.o.tokens);
    if (open && this.o.protectMetrics && !who) return unauthorized(res);
    if (p === '/metrics' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': b.registry.contentType });
      res.end(await b.registry.metrics());
      return;
    }
    if (p === '/healthz') return send(res, 200, { status: 'alive' });
    if (p === '/readyz') {
      const r = await b.ready();
      return send(res, r.ready ? 200 : 503, r);
    }
    if (!p.startsWith('/api/v1')) return send(res, 404, { error: `no route ${p}` });
    if (this.o.tokens.length === 0) return send(res, 404, { error: 'the API is disabled: set http.tokenFile' });
    if (!who) return unauthorized(res);
    const parts = decodePath(p.split('/').slice(3)); // after /api/v1
    if (!parts) return send(res, 400, { error: `malformed percent-escape in ${p}` });
    if (parts[0] === 'sources' && parts.length === 1 && req.method === 'GET') return send(res, 200, await b.sources());
    if (parts[0] === 'sources' && parts.length === 3) {
      const [, source, what] = parts as [string, string, string];
      if (!b.hasSource(source)) return send(res, 404, { error: `no source named ${JSON.stringify(source)} is configured` });
      if (req.method === 'GET' && what === 'backups') return send(res, 200, await b.backups(source));
      if (req.method === 'GET' && what === 'drills') return send(res, 200, await b.drills(source));
      if (req.method === 'GET' && what === 'window') return send(res, 200, await b.window(source));
      if (req.method === 'POST' && (what === 'backups' || what === 'drills')) {
        const r = b.trigger(source, what === 'backups' ? 'backup' : 'drill', who);
        return send(res, r.status, r.body);
      }
    }
    if (parts[0] === 'jobs' && parts.length === 2 && req.method === 'GET') {
      const j = b.job(parts[1] as string);
      return j ? send(res, 200, j) : send(res, 404, { error: `no job ${parts[1]}` });
    }
    return send(res, 404, { error: `no route ${req.method} ${p}` });
  }
}

/** Percent-decode each path segment; undefined when an escape is malformed (a 400, not a 500). */
function decodePath(segments: string[]): string[] | undefined {
  try {
    return segments.map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function unauthorized(res: http.ServerResponse): void {
  res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="backtrack"' });
  res.end(JSON.stringify({ error: 'a bearer token is required: Authorization: Bearer <token from http.tokenFile>' }));
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}
