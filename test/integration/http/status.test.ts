/**
 * The status page's routes: the page itself is open (it holds no data); its
 * document needs the token when one is configured and is open, like
 * /metrics, when none is; the rest of the API stays disabled without a token.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer, type ApiBackend } from '../../../src/http/server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { provenPoint } from '../../../src/daemon/status.js';
import type { DrillReport } from '../../../src/repository/drills.js';

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const backend = {
  registry: new Registry(),
  ready: async () => ({ ready: true }),
  hasSource: () => true,
  sources: async () => ({}),
  backups: async () => ({}),
  drills: async () => ({}),
  window: async () => ({}),
  trigger: () => ({ status: 202 as const, body: {} }),
  job: () => undefined,
  self: () => undefined,
  leading: () => true,
  leaderOf: async () => undefined,
  jobSource: () => undefined,
  status: async () => ({ generatedAt: 'now', daemon: null, sources: [] }),
} satisfies ApiBackend;

async function start(tokens: Array<{ name: string; token: string }>): Promise<string> {
  server = new HttpServer({ listen: '127.0.0.1:0', tokens, protectMetrics: false, backend, log: silentLogger() });
  return `http://127.0.0.1:${(await server.start()).port}`;
}

describe('the status page routes', () => {
  it('serve the page open, and its data open when no token is configured', async () => {
    const base = await start([]);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/<title>Backtrack status<\/title>/);
    expect((await fetch(`${base}/api/v1/status`)).status).toBe(200);
    // The rest of the API is still disabled without a token file.
    expect((await fetch(`${base}/api/v1/sources`)).status).toBe(404);
  });

  it('answer 503 saying why when the status cannot be built', async () => {
    const failing = { ...backend, status: async () => Promise.reject(new Error('cannot list s3://b/x: connect ECONNREFUSED')) };
    server = new HttpServer({ listen: '127.0.0.1:0', tokens: [], protectMetrics: false, backend: failing, log: silentLogger() });
    const r = await fetch(`http://127.0.0.1:${(await server.start()).port}/api/v1/status`);
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: string }).error).toMatch(/cannot build the status: cannot list s3:\/\/b\/x: connect ECONNREFUSED/);
  });

  it('need the token for the data when one is configured', async () => {
    const base = await start([{ name: 'ops', token: 'tok' }]);
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect((await fetch(`${base}/api/v1/status`)).status).toBe(401);
    expect((await fetch(`${base}/api/v1/status`, { headers: { authorization: 'Bearer tok' } })).status).toBe(200);
  });
});

describe('the newest proven point', () => {
  const report = (verdict: 'passed' | 'failed', lastReplayed: string | undefined, at: string): DrillReport => ({
    format: 1, source: 'main', backupId: `b-${at}`, startedAt: at, finishedAt: at, verdict, failedChecks: [], scratch: { mode: 'spawn', description: '' }, actor: { kind: 'daemon', name: 'd' },
    rto: { seconds: 1, loadSeconds: 1, replaySeconds: 0, bytesRead: 0, rawBytes: 0, mibPerSecond: 0 },
    checks: lastReplayed ? [{ name: 'point-in-time', verdict: verdict === 'passed' ? 'passed' : 'failed', message: '', evidence: { lastReplayed } }] : [],
  });
  it('is the newest point a passed point-in-time drill recovered, not a failed one, nor a drill without a replay', () => {
    expect(provenPoint([])).toBeNull();
    expect(provenPoint([report('passed', undefined, '2026-11-26T01:00:00Z')])).toBeNull();
    expect(
      provenPoint([report('passed', '2026-11-25T10:00:00.000Z', '2026-11-25T11:00:00Z'), report('failed', '2026-11-26T10:00:00.000Z', '2026-11-26T11:00:00Z'), report('passed', '2026-11-24T10:00:00.000Z', '2026-11-26T12:00:00Z')]),
    ).toEqual({ at: '2026-11-25T10:00:00.000Z', backupId: 'b-2026-11-25T11:00:00Z', drilledAt: '2026-11-25T11:00:00Z' });
  });
});
