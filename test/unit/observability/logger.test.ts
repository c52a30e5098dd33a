import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, scrub } from '../../../src/observability/logger.js';

function capture() {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: createLogger({ level: 'trace', destination: dest as never }), text: () => lines.join('') };
}

describe('the logger', () => {
  it('never writes a secret, whether structured or in free text', () => {
    const { log, text } = capture();
    const secret = 'Tr0ub4dor&3-hunter2';
    log.info({ password: secret, mysql: { password: secret }, s3: { secretAccessKey: secret }, headers: { authorization: `Bearer ${secret}` } }, 'connecting');
    log.warn(`mariadb-dump --password=${secret} failed; dsn mysql://root:${secret}@db:3306`);
    log.error({ err: new Error(`login failed for mysql://u:${secret}@h/ with password=${secret}`) }, 'failed');
    log.info({ token: secret, env: { MYSQL_PWD: secret } }, 'api');
    log.info(`CREATE USER 'a'@'%' IDENTIFIED BY '${secret}'`);
    expect(text()).not.toContain(secret);
    expect(text()).toContain('[redacted]');
  });

  it('writes JSON lines with the fixed job keys of child loggers', () => {
    const { log, text } = capture();
    log.child({ source: 'main', job: 'backup', backupId: '20261125T030000Z-ab12' }).info('backup started');
    const line = JSON.parse(text().trim().split('\n')[0] ?? '{}');
    expect(line).toMatchObject({ level: 'info', source: 'main', job: 'backup', backupId: '20261125T030000Z-ab12', msg: 'backup started' });
    expect(typeof line.time).toBe('string');
  });
});

describe('scrub', () => {
  it('leaves ordinary text alone', () => {
    expect(scrub('mysql-bin.000003 --port=3306 -P 3306 temp-pool')).toBe('mysql-bin.000003 --port=3306 -P 3306 temp-pool');
  });
});
