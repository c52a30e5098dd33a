/**
 * Accounts, roles and grants as portable SQL: `CREATE ... IF NOT EXISTS`
 * then the GRANT statements, generated from SHOW CREATE USER and SHOW GRANTS
 * (which both flavors speak), so a restore re-creates them on any server of
 * the flavor without touching the target's own system tables. The server's
 * own accounts (root, mariadb.sys, mysql.*) are left out.
 */
import type { Connection } from 'mysql2/promise';
import { queryOne, queryRows } from './connect.js';
import { accountSessionSql, isSystemAccount } from './flavor.js';
import type { ServerInfo } from './server.js';

/** An account name as the server prints it: 'user'@'host'. */
export function accountName(user: string, host: string): string {
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `${q(user)}@${q(host)}`;
}

/** The accounts and roles to back up, with their SQL. */
export interface AccountsDump {
  accounts: string[];
  sql: string;
}

/** Generate the SQL that re-creates every non-system account, role and grant. */
export async function dumpAccounts(conn: Connection, info: ServerInfo): Promise<AccountsDump> {
  for (const s of accountSessionSql(info.flavor, info.version)) await conn.query(s);
  const roleCol = info.flavor === 'mariadb' ? "is_role = 'Y'" : "0";
  const rows = await queryRows<{ user: string; host: string; isRole: number | string }>(
    conn,
    `SELECT User AS user, Host AS host, ${roleCol} AS isRole FROM mysql.user ORDER BY User, Host`,
  );
  const wanted = rows.filter((r) => !isSystemAccount(info.flavor, r.user, r.host));
  const create: string[] = [];
  const grants: string[] = [];
  const accounts: string[] = [];
  for (const r of wanted) {
    const name = accountName(r.user, r.host);
    const isRole = Number(r.isRole) === 1;
    accounts.push(isRole ? `role ${name.split('@')[0]}` : name);
    if (isRole) create.push(`CREATE ROLE IF NOT EXISTS ${name.split('@')[0]};`);
    else {
      const row = await queryOne<Record<string, string>>(conn, `SHOW CREATE USER ${name}`);
      const stmt = row ? Object.values(row)[0] : undefined;
      if (stmt) create.push(`${stmt.replace(/^CREATE USER\s+(IF NOT EXISTS\s+)?/i, 'CREATE USER IF NOT EXISTS ')};`);
    }
    const forName = isRole ? name.split('@')[0] : name;
    const shown = await queryRows<Record<string, string>>(conn, `SHOW GRANTS FOR ${forName}`);
    for (const g of shown) {
      const stmt = Object.values(g)[0];
      // USAGE grants only restate that the account exists.
      if (stmt && !/^GRANT USAGE ON \*\.\* TO [^ ]+$/i.test(stmt)) grants.push(`${stmt};`);
    }
  }
  const header = [
    `-- Accounts, roles and grants written by Backtrack from ${info.flavor} ${info.version.text}.`,
    '-- Replay with: mariadb < users.sql (or mysql). Existing accounts are kept as they are.',
  ];
  return { accounts, sql: `${[...header, ...create, ...grants].join('\n')}\n` };
}
