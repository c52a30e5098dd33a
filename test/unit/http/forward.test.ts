/**
 * A daemon asked about a source it does not lead, when the request cannot
 * be forwarded: 503 naming the leader the repository records (the
 * two-daemon test in test/integration/daemon covers forwarding itself).
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpServer, verifyForwardProof, type ApiBackend } from '../../../src/http/server.js';
import type { LeaderRecord } from '../../../src/repository/repository.js';
import { silentLogger } from '../../../src/observability/logger.js';

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function standby(leader: LeaderRecord | undefined): Promise<string> {
  const backend: ApiBackend = {
    registry: new Registry(),
    ready: async () => ({ ready: true }),
    hasSource: (n) => n === 'main',
    sources: async () => ({}),
    backups: async () => ({}),
    drills: async () => ({}),
    window: async () => ({}),
    trigger: () => {
      throw new Error('a standby must not run the trigger itself');
    },
    job: () => undefined,
    self: () => ({ identity: 'standby:2', url: 'http://127.0.0.1:9' }),
    leading: () => false,
    leaderOf: async () => leader,
    jobSource: (id) => (id.startsWith('main-') ? 'main' : undefined),
    status: async () => ({}),
  };
  server = new HttpServer({ listen: '127.0.0.1:0', tokens: [{ name: 'ops', token: 'tok' }], protectMetrics: false, backend, log: silentLogger() });
  return `http://127.0.0.1:${(await server.start()).port}/api/v1`;
}

const post = async (url: string) => {
  const r = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer tok' } });
  return { status: r.status, json: (await r.json()) as { error: string; leader: unknown } };
};

describe('the API on a daemon that does not lead the source', () => {
  it('answers 503 naming the recorded leader when the leader does not answer', async () => {
    const leader = { identity: 'leader-pod:1', url: 'http://127.0.0.1:1', since: '2026-11-26T06:00:00.000Z' };
    const base = await standby(leader);
    const r = await post(`${base}/sources/main/backups`);
    expect(r.status).toBe(503);
    expect(r.json.leader).toEqual(leader);
    expect(r.json.error).toMatch(/this daemon \(standby:2\) does not lead main: its leader leader-pod:1 at http:\/\/127\.0\.0\.1:1 did not answer/);
    const job = await fetch(`${base}/jobs/main-backup-abc-1234`, { headers: { authorization: 'Bearer tok' } });
    expect(job.status).toBe(503);
  });

  it('forwards to the recorded leader without the caller\'s token: a proof made with it instead', async () => {
    // A "leader" that records what reaches it (as a planted leader record would).
    const seen: http.IncomingHttpHeaders[] = [];
    const fake = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"job":{"id":"main-backup-x"}}');
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
      const base = await standby({ identity: 'leader-pod:1', url, since: '2026-11-26T06:00:00.000Z' });
      const r = await fetch(`${base}/sources/main/backups`, { method: 'POST', headers: { authorization: 'Bearer tok' } });
      expect(r.status).toBe(202);
      expect(r.headers.get('x-backtrack-forwarded-to')).toBe('leader-pod:1');
      expect(seen).toHaveLength(1);
      expect(seen[0]!.authorization).toBeUndefined();
      expect(JSON.stringify(seen[0])).not.toContain('tok"');
      expect(seen[0]!['x-backtrack-forwarded-by']).toBe('standby:2');
      expect(verifyForwardProof(seen[0]!['x-backtrack-forward-proof'] as string, [{ name: 'ops', token: 'tok' }], 'POST', '/api/v1/sources/main/backups')).toBe('ops');
    } finally {
      fake.close();
    }
  });

  it('answers 503 when no leader is recorded, or the record names this daemon', async () => {
    let base = await standby(undefined);
    expect((await post(`${base}/sources/main/drills`)).json.error).toMatch(/no other daemon is recorded as its leader yet/);
    await server!.stop();
    base = await standby({ identity: 'standby:2', url: 'http://127.0.0.1:9', since: '2026-11-26T06:00:00.000Z' });
    expect((await post(`${base}/sources/main/drills`)).status).toBe(503);
    // A job of no configured source is simply unknown.
    expect((await fetch(`${base}/jobs/other-backup-1`, { headers: { authorization: 'Bearer tok' } })).status).toBe(404);
  });
});
