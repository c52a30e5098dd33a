/**
 * The API as a hostile client meets it: source names that try to climb out
 * of the repository, malformed escapes, names nobody configured. A daemon on
 * loopback with a local repository answers 404 and 400, never 500 and never
 * a listing of anything outside the repository. (The source's server is not
 * running: the API must not need it to answer these.)
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { request } from '../../helpers/http.js';

const TOKEN = 'api-test-token-1b2c';
let daemon: Daemon;
let base: string;

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bt-api-'));
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, `ops:${TOKEN}\n`);
  // Something outside the repository a traversal would find.
  await mkdir(path.join(dir, 'etc', 'backups', '20261125T030000Z-abcd'), { recursive: true });
  await writeFile(path.join(dir, 'etc', 'backups', '20261125T030000Z-abcd', 'manifest.json'), '{}');
  const cfg = parseConfig(
    { repository: { url: path.join(dir, 'a', 'repo') }, workDir: path.join(dir, 'work'), sources: [{ name: 'main', mysql: { host: '127.0.0.1', port: 1 }, binlog: { enabled: false } }], http: { tokenFile } },
    path.join(dir, 'backtrack.yaml'),
  );
  daemon = new Daemon({ cfg, log: silentLogger(), listen: '127.0.0.1:0' });
  const { port } = await daemon.start();
  base = `http://127.0.0.1:${port}/api/v1`;
});
afterAll(async () => {
  await daemon?.stop();
});

describe('the API with hostile source names', () => {
  it('answers 404 for a source name that tries to climb out of the repository', async () => {
    const r = await request('GET', `${base}/sources/..%2f..%2fetc/backups`, TOKEN);
    expect(r.status).toBe(404);
    expect(r.json.error).toMatch(/no source named "\.\.\/\.\.\/etc" is configured/);
  });

  it('answers 400 for a malformed percent-escape', async () => {
    const r = await request('GET', `${base}/sources/%/backups`, TOKEN);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/malformed percent-escape/);
  });

  it('answers 404 for a source nobody configured, on reads and on triggers', async () => {
    for (const what of ['backups', 'drills', 'window']) expect((await request('GET', `${base}/sources/nosuch/${what}`, TOKEN)).status).toBe(404);
    expect((await request('POST', `${base}/sources/nosuch/backups`, TOKEN)).status).toBe(404);
  });

  it('still answers for the configured source', async () => {
    const r = await request('GET', `${base}/sources/main/backups`, TOKEN);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ source: 'main', backups: [] });
  });
});
