/**
 * `backtrack health`: ask the running daemon (at the configured http.listen)
 * whether it is ready; exit 0 when it is, 1 when not or unreachable. For
 * container HEALTHCHECKs and probes: it follows the configuration (address,
 * and the token when http.protectMetrics guards the health endpoints).
 */
import { readApiTokens } from '../config/secrets.js';
import { bool, type Command } from './command.js';

export const healthCommand: Command = {
  name: 'health',
  summary: 'ask the running daemon whether it is ready (exit 0) or not (exit 1): for container health checks and probes',
  usage: 'backtrack health [--live] [--json]',
  options: {
    live: { type: 'boolean', description: 'only whether it is alive (/healthz), not whether it is ready to work (/readyz)' },
  },
  async run(ctx) {
    const listen = ctx.cfg.http.listen;
    const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(listen);
    let host = m?.[1] ?? '127.0.0.1';
    if (host === '0.0.0.0' || host === '' || host === '::') host = '127.0.0.1';
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${m?.[2] ?? '9464'}${bool(ctx, 'live') ? '/healthz' : '/readyz'}`;
    const headers: Record<string, string> = {};
    if (ctx.cfg.http.protectMetrics && ctx.cfg.http.tokenFile) headers.authorization = `Bearer ${readApiTokens(ctx.cfg.http.tokenFile)[0]?.token ?? ''}`;
    let status = 0;
    let body: unknown;
    let error: string | undefined;
    try {
      const r = await fetch(url, { headers, signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(5000)]) });
      status = r.status;
      body = await r.json().catch(() => undefined);
    } catch (err) {
      error = (err as Error).message;
    }
    const ok = status === 200;
    return {
      exitCode: ok ? 0 : 1,
      json: { ok, url, status, ...(body !== undefined ? { body } : {}), ...(error ? { error } : {}) },
      text: ok ? `ready: ${url}` : error ? `not reachable: ${url} (${error}); is the daemon running, and is http.listen right?` : `not ${bool(ctx, 'live') ? 'alive' : 'ready'}: ${url} answered ${status} ${JSON.stringify(body ?? '')}`,
    };
  },
};
