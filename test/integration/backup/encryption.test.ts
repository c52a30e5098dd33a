/**
 * Encrypted repositories: every object is stored as age ciphertext (not a
 * zstd frame), and a backup plus its binlog restores with the identity.
 * Without the identity, the restore stops and says what is missing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli } from '../../helpers/cli.js';

let source: TestServer;
let target: TestServer;
let t: TestConfig;

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDB(), startMariaDB({ profile: 'scratch' })]);
  await source.source("CREATE DATABASE vault; CREATE TABLE vault.secrets (id INT PRIMARY KEY, s VARCHAR(40)); INSERT INTO vault.secrets VALUES (1, 'the plaintext marker 7f3a');");
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 'fs' });
  const identity = path.join(t.dir, 'age-identity');
  execFileSync('age-keygen', ['-o', identity], { stdio: 'ignore' });
  const recipient = execFileSync('age-keygen', ['-y', identity]).toString().trim();
  await writeFile(path.join(t.dir, 'age-recipients'), `${recipient}\n`);
  await writeFile(t.file, stringify({ ...t.raw, repository: { ...(t.raw.repository as object), encryption: { recipientsFile: 'age-recipients', identityFile: 'age-identity' } } }));
});
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('an encrypted repository', () => {
  it('stores age ciphertext only, and restores with the identity', async () => {
    const b = await cli(['backup', '--config', t.file, '--json']);
    expect(b.code, b.stderr).toBe(0);
    const dir = path.join(t.dir, 'repo', 'main', 'backups', b.json.backup.id);
    const objects = readdirSync(dir).filter((f) => f !== 'manifest.json');
    // Every object is age ciphertext; none holds the plaintext.
    expect(objects.length).toBeGreaterThanOrEqual(4);
    for (const o of objects) {
      expect(o).toMatch(/\.zst\.age$/);
      const bytes = readFileSync(path.join(dir, o));
      expect(bytes.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
      expect(bytes.includes(Buffer.from('plaintext marker'))).toBe(false);
    }

    const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`, '--backup', b.json.backup.id]);
    expect(r.code, r.stderr).toBe(0);
    expect(await target.query('SELECT s FROM vault.secrets')).toEqual([{ s: 'the plaintext marker 7f3a' }]);
  });

  it('refuses to decrypt without the identity file and says so', async () => {
    const { parse } = await import('yaml');
    const raw = parse(readFileSync(t.file, 'utf8'));
    delete raw.repository.encryption.identityFile;
    const noId = path.join(t.dir, 'no-identity.yaml');
    await writeFile(noId, stringify(raw));
    const r = await cli(['restore', '--config', noId, '--target', `mysql://root@127.0.0.1:${target.port}`, '--force']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/identityFile is required/);
  });
});
