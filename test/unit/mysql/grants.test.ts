import { describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { checkGrants, grantStatement } from '../../../src/mysql/grants.js';

/** A connection that answers SHOW GRANTS with these lines. */
const grants = (lines: string[]) => ({ query: async () => [lines.map((g) => ({ 'Grants for backtrack@%': g })), []] }) as unknown as Connection;

describe('the grants check', () => {
  it('asks a MySQL account for BACKUP_ADMIN (the backup lock), which MySQL grants on a line of its own', async () => {
    const base = 'GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, REPLICATION CLIENT, REPLICATION SLAVE, PROCESS ON *.* TO `backtrack`@`%`';
    const without = await checkGrants(grants([base]), 'mysql', true);
    expect(without.missing).toEqual([{ privilege: 'BACKUP_ADMIN', why: expect.stringMatching(/LOCK INSTANCE FOR BACKUP/) }]);
    const withIt = await checkGrants(grants([base, 'GRANT BACKUP_ADMIN ON *.* TO `backtrack`@`%`']), 'mysql', true);
    expect(withIt.missing).toEqual([]);
    expect(grantStatement('mysql', "'backtrack'@'%'")).toMatch(/BACKUP_ADMIN/);
  });
  it('does not ask a MariaDB account for it (BACKUP STAGE needs RELOAD)', async () => {
    const r = await checkGrants(grants(['GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `backtrack`@`%`']), 'mariadb', true);
    expect(r.missing).toEqual([{ privilege: 'RELOAD', why: expect.stringMatching(/BACKUP STAGE/) }]);
    expect(grantStatement('mariadb', "'backtrack'@'%'")).not.toMatch(/BACKUP_ADMIN/);
  });
});
