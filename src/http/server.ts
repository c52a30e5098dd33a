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
 *   GET  /api/v1/status                            the status page's document (open when no token is configured)
 *   GET  /                                         the status page (static; its data needs the token when one is configured)
 *
 * Any daemon answers for any source: a trigger for a source another daemon
 * leads, and a job this one does not know, are forwarded to the leader the
 * repository names (its advertised URL, with a proof made with the caller's
 * token, never the token: FORWARD_PROOF); when that cannot be done the
 * answer is 503 naming the leader.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../observability/logger.js';
import type { Registry } from 'prom-client';
import type { ApiToken } from '../config/secrets.js';
import type { LeaderRecord } from '../repository/repository.js';

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
  /** This daemon, as a leader records itself. */
  self(): { identity: string; url: string } | undefined;
  /** Whether this daemon leads the source now. */
  leading(source: string): boolean;
  /** The leader the repository names for a source. */
  leaderOf(source: string): Promise<LeaderRecord | undefined>;
  /** The source a job id belongs to. */
  jobSource(id: string): string | undefined;
  /** The status page's document. */
  status(): Promise<unknown>;
}

/** The status page: one self-contained HTML file built by scripts/bundle.mjs (no CDN, nothing fetched at run time). */
function statusPage(): Buffer | undefined {
  // dist/http/server.js (tsc), the bundle dist/backtrack.mjs, or src/http/server.ts run by the tests: the page is dist/status.html.
  for (const rel of ['../status.html', './status.html', '../../dist/status.html']) {
    try {
      return readFileSync(new URL(rel, import.meta.url));
    } catch {
      // try the next location
    }
  }
  return undefined;
}

/** Header marking a request one daemon forwarded to another (it is never forwarded again). */
const FORWARDED = 'x-backtrack-forwarded-by';
/**
 * The proof a forwarded request carries instead of the caller's token: an
 * HMAC with the caller's token (both daemons hold the token file) over the
 * method, path, time and actor. The token itself never leaves the daemon it
 * was given to, so a leader record planted in the repository cannot collect
 * tokens.
 */
const FORWARD_PROOF = 'x-backtrack-forward-proof';
const FORWARD_PROOF_MAX_AGE_MS = 60_000;

function forwardSignature(token: string, method: string, path: string, at: number, actor: string): string {
  return createHmac('sha256', token).update(`${method}\n${path}\n${at}\n${actor}`).digest('hex');
}

/** The proof header for a request forwarded on behalf of `actor` (whose token is `token`). */
export function forwardProof(token: string, method: string, path: string, actor: string, at = Date.now()): string {
  return `v1 at=${at} actor=${encodeURIComponent(actor)} sig=${forwardSignature(token, method, path, at, actor)}`;
}

/** The actor a forwarded request's proof names, when the proof is good and fresh. */
export function verifyForwardProof(header: string | undefined, tokens: ApiToken[], method: string, path: string, now = Date.now()): string | undefined {
  const m = /^v1 at=(\d+) actor=(\S+) sig=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return undefined;
  const at = Number(m[1]);
  if (Math.abs(now - at) > FORWARD_PROOF_MAX_AGE_MS) return undefined;
  const actor = decodeURIComponent(m[2] as string);
  const presented = Buffer.from(m[3] as string, 'hex');
  let found: string | undefined;
  for (const t of tokens) {
    if (t.name !== actor) continue;
    if (timingSafeEqual(presented, Buffer.from(forwardSignature(t.token, method, path, at, actor), 'hex'))) found ??= t.name;
  }
  return found;
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
  private page?: Buffer | undefined;

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

  /**
   * Forward a request about a source this daemon does not lead to the daemon
   * the repository names as its leader, and pass its answer back; 503 naming
   * the leader when there is none, it is this daemon, the request was
   * forwarded already, or the leader does not answer.
   */
  private async toLeader(req: http.IncomingMessage, res: http.ServerResponse, source: string, path: string, actor: string): Promise<void> {
    const b = this.o.backend;
    const self = b.self();
    const leader = await b.leaderOf(source).catch(() => undefined);
    const refuse = (why: string) => send(res, 503, { error: `this daemon (${self?.identity ?? 'unknown'}) does not lead ${source}: ${why}`, leader: leader ?? null });
    if (!leader || leader.identity === self?.identity) return refuse('no other daemon is recorded as its leader yet; try again in a moment (a standby takes over within daemon.leaderRetry)');
    if (req.headers[FORWARDED]) return refuse(`it was forwarded here by ${String(req.headers[FORWARDED])}, and is not forwarded twice`);
    try {
      // Not the caller's token: a proof made with it (see FORWARD_PROOF).
      const token = this.o.tokens.find((t) => t.name === actor)?.token;
      if (!token) return refuse('the caller is not known here');
      const method = req.method ?? 'GET';
      const r = await fetch(`${leader.url}${path}`, {
        method,
        headers: { [FORWARD_PROOF]: forwardProof(token, method, path, actor), [FORWARDED]: self?.identity ?? 'unknown' },
        signal: AbortSignal.timeout(10_000),
        redirect: 'error',
      });
      const text = await r.text();
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json', 'x-backtrack-forwarded-to': leader.identity });
      res.end(text);
    } catch (err) {
      refuse(`its leader ${leader.identity} at ${leader.url} did not answer (${(err as Error).message}); try again in a moment`);
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const b = this.o.backend;
    const open = p === '/metrics' || p === '/healthz' || p === '/readyz';
    const forwardedProof = req.headers[FORWARD_PROOF];
    const who = authenticate(req.headers.authorization, this.o.tokens) ?? (typeof forwardedProof === 'string' && req.headers[FORWARDED] ? verifyForwardProof(forwardedProof, this.o.tokens, req.method ?? 'GET', p) : undefined);
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
    if (p === '/' && req.method === 'GET') {
      // The page itself holds no data: it is served open, and asks for the token its data needs.
      this.page ??= statusPage();
      if (!this.page) return send(res, 404, { error: 'the status page is not built (npm run build)' });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:", 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
      res.end(this.page);
      return;
    }
    if (p === '/api/v1/status' && req.method === 'GET') {
      // Read only: open like /metrics when no token is configured, else the token (protectMetrics or not).
      if (this.o.tokens.length > 0 && !who) return unauthorized(res);
      try {
        return send(res, 200, await b.status());
      } catch (err) {
        // The repository or a source does not answer: say so (the page shows it and keeps the last document).
        return send(res, 503, { error: `cannot build the status: ${(err as Error).message}` });
      }
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
        if (!b.leading(source)) return this.toLeader(req, res, source, p, who);
        const r = b.trigger(source, what === 'backups' ? 'backup' : 'drill', who);
        return send(res, r.status, r.body);
      }
    }
    if (parts[0] === 'jobs' && parts.length === 2 && req.method === 'GET') {
      const j = b.job(parts[1] as string);
      if (j) return send(res, 200, j);
      const source = b.jobSource(parts[1] as string);
      if (source && !b.leading(source) && !req.headers[FORWARDED]) return this.toLeader(req, res, source, p, who);
      return send(res, 404, { error: `no job ${parts[1]}${source ? `: the daemon that ran it may have restarted since; its outcome is in the audit trail (backtrack audit)` : ''}` });
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
