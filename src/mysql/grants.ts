/**
 * Which privileges the backup account needs, and which of them it lacks.
 * Read from SHOW GRANTS FOR CURRENT_USER(); privileges that reach the account
 * only through a role are not followed (the check then says so).
 */
import type { Connection } from 'mysql2/promise';
import { identifierForms, queryRows } from './connect.js';
import type { Flavor } from './flavor.js';

/** A needed privilege: any one of `names` satisfies it. */
interface Needed {
  names: string[];
  why: string;
}

function needed(flavor: Flavor, binlog: boolean): Needed[] {
  const list: Needed[] = [
    { names: ['SELECT'], why: 'read every table' },
    { names: ['SHOW VIEW'], why: 'dump view definitions' },
    { names: ['TRIGGER'], why: 'dump triggers' },
    { names: ['EVENT'], why: 'dump events' },
    { names: ['LOCK TABLES'], why: 'mysqldump takes table locks for non-InnoDB tables' },
    { names: ['RELOAD'], why: flavor === 'mariadb' ? 'block commits while the dump sessions open one snapshot (BACKUP STAGE)' : 'block commits while the dump sessions open one snapshot (FLUSH TABLES WITH READ LOCK)' },
    flavor === 'mariadb'
      ? { names: ['BINLOG MONITOR', 'REPLICATION CLIENT'], why: 'read the binlog position (SHOW MASTER STATUS)' }
      : { names: ['REPLICATION CLIENT'], why: 'read the binlog position (SHOW BINARY LOG STATUS)' },
  ];
  if (binlog) list.push({ names: ['REPLICATION SLAVE', 'REPLICATION REPLICA'], why: 'stream the binary log for archiving' });
  if (flavor === 'mysql') list.push({ names: ['PROCESS'], why: 'mysqldump reads tablespace information' }, { names: ['BACKUP_ADMIN'], why: 'block DDL while the dump sessions open one snapshot (LOCK INSTANCE FOR BACKUP)' });
  return list;
}

/** Result of the grants check. */
export interface GrantsCheck {
  missing: Array<{ privilege: string; why: string }>;
  grants: string[];
}

/** Compare the current account's global privileges with what Backtrack needs. */
export async function checkGrants(conn: Connection, flavor: Flavor, binlog: boolean): Promise<GrantsCheck> {
  const rows = await queryRows<Record<string, string>>(conn, 'SHOW GRANTS FOR CURRENT_USER()');
  const grants = rows.map((r) => Object.values(r)[0] ?? '');
  const global = new Set<string>();
  for (const g of grants) {
    const m = /^GRANT (.+?) ON \*\.\* TO /i.exec(g);
    if (!m?.[1]) continue;
    for (const p of m[1].split(',')) global.add(p.trim().toUpperCase());
  }
  const all = global.has('ALL PRIVILEGES') || global.has('ALL');
  const missing = needed(flavor, binlog)
    .filter((n) => !all && !n.names.some((name) => global.has(name)))
    .map((n) => ({ privilege: n.names[0] as string, why: n.why }));
  return { missing, grants };
}

/** The GRANT statement that gives an account everything Backtrack needs. */
export function grantStatement(flavor: Flavor, account: string): string {
  const privs = flavor === 'mariadb'
    ? 'SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, BINLOG MONITOR, REPLICATION SLAVE'
    : 'SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, REPLICATION CLIENT, REPLICATION SLAVE, PROCESS, BACKUP_ADMIN';
  return `GRANT ${privs} ON *.* TO ${account}`;
}

/** Whether the account may write the heartbeat: INSERT (and CREATE) on its schema or globally. */
export function canWriteHeartbeat(grants: string[], schema: string): boolean {
  const onSchema = new RegExp(`^GRANT (.+?) ON (\\*|${identifierForms(schema).quoted})\\.\\* TO `, 'i');
  return grants.some((g) => {
    const m = onSchema.exec(g);
    if (!m?.[1]) return false;
    const privs = m[1].toUpperCase();
    return privs.includes('ALL PRIVILEGES') || (privs.includes('INSERT') && privs.includes('CREATE'));
  });
}
