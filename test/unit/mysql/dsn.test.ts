import { describe, expect, it } from 'vitest';
import { parseDsn, redactDsn } from '../../../src/mysql/dsn.js';

describe('parseDsn', () => {
  it('reads user, host and port', () => {
    expect(parseDsn('mysql://restorer@db2.internal:3307', { env: {} })).toMatchObject({ user: 'restorer', host: 'db2.internal', port: 3307, password: undefined });
  });
  it('takes the password from BACKTRACK_TARGET_PASSWORD when the DSN has none', () => {
    expect(parseDsn('mysql://u@h', { env: { BACKTRACK_TARGET_PASSWORD: 's3cret' } })).toMatchObject({ password: 's3cret', port: 3306 });
  });
  it('rejects what is not a DSN with the expected form', () => {
    expect(() => parseDsn('db2:3306', { env: {} })).toThrow(/mysql:\/\/user@host:port/);
    expect(() => parseDsn('postgres://u@h', { env: {} })).toThrow(/mysql:\/\/ or mariadb:\/\//);
  });
});

describe('redactDsn', () => {
  it('hides a password in a DSN', () => {
    expect(redactDsn('mysql://u:hunter2@h:1')).toBe('mysql://u:[redacted]@h:1');
  });
});
