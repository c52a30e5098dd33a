/**
 * A server's user-visible content, object by object and row by row, so two
 * servers can be compared with one deep equality: every CREATE statement,
 * every row (history rows of system-versioned tables included), sequence
 * state, and the grants of given accounts.
 */
import { closeQuietly, connect, quoteIdent, queryRows, type ConnectionSpec } from '../../src/mysql/connect.js';
import { SYSTEM_SCHEMAS } from '../../src/mysql/flavor.js';

export interface ServerSnapshot {
  schemas: Record<string, string>;
  objects: Record<string, string>;
  rows: Record<string, string[]>;
  grants: Record<string, string[]>;
}

function serialize(row: Record<string, unknown>): string {
  return JSON.stringify(row, (_k, v: unknown) => {
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return `hex:${Buffer.from((v as { data: number[] }).data).toString('hex')}`;
    return v;
  });
}

/** Everything in the given schemas (default: all user schemas), plus the grants of `accounts`. */
export async function snapshotServer(spec: ConnectionSpec, accounts: string[] = [], onlySchemas?: string[]): Promise<ServerSnapshot> {
  const conn = await connect(spec);
  try {
    await conn.query("SET time_zone = '+00:00'");
    const schemaRows = await queryRows<{ name: string }>(conn, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY 1');
    const schemas = schemaRows.map((r) => r.name).filter((s) => !SYSTEM_SCHEMAS.includes(s) && (!onlySchemas || onlySchemas.includes(s)));
    const out: ServerSnapshot = { schemas: {}, objects: {}, rows: {}, grants: {} };
    for (const s of schemas) {
      const [c] = await queryRows<Record<string, string>>(conn, `SHOW CREATE DATABASE ${quoteIdent(s)}`);
      out.schemas[s] = Object.values(c ?? {})[1] ?? '';
      const tables = await queryRows<{ name: string; type: string }>(conn, 'SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1', [s]);
      for (const t of tables) {
        const q = `${quoteIdent(s)}.${quoteIdent(t.name)}`;
        const kind = t.type === 'VIEW' ? 'VIEW' : t.type === 'SEQUENCE' ? 'SEQUENCE' : 'TABLE';
        const [create] = await queryRows<Record<string, string>>(conn, `SHOW CREATE ${kind === 'SEQUENCE' ? 'SEQUENCE' : kind === 'VIEW' ? 'VIEW' : 'TABLE'} ${q}`);
        out.objects[`${kind} ${s}.${t.name}`] = Object.values(create ?? {})[1] ?? '';
        if (kind === 'VIEW') continue;
        const from = t.type === 'SYSTEM VERSIONED' ? `${q} FOR SYSTEM_TIME ALL` : q;
        const cols = t.type === 'SYSTEM VERSIONED' ? '*, ROW_START, ROW_END' : '*';
        const rows = await queryRows<Record<string, unknown>>(conn, `SELECT ${cols} FROM ${from}`);
        out.rows[`${s}.${t.name}`] = rows.map((r) => serialize(r)).sort();
      }
      for (const r of await queryRows<{ name: string; type: string }>(conn, 'SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?', [s])) {
        const [c2] = await queryRows<Record<string, string>>(conn, `SHOW CREATE ${r.type} ${quoteIdent(s)}.${quoteIdent(r.name)}`);
        out.objects[`${r.type} ${s}.${r.name}`] = String(Object.values(c2 ?? {})[2] ?? '');
      }
      for (const r of await queryRows<{ name: string }>(conn, 'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', [s])) {
        const [c3] = await queryRows<Record<string, string>>(conn, `SHOW CREATE TRIGGER ${quoteIdent(s)}.${quoteIdent(r.name)}`);
        out.objects[`TRIGGER ${s}.${r.name}`] = String(Object.values(c3 ?? {})[2] ?? '');
      }
      for (const r of await queryRows<{ name: string }>(conn, 'SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?', [s])) {
        const [c4] = await queryRows<Record<string, string>>(conn, `SHOW CREATE EVENT ${quoteIdent(s)}.${quoteIdent(r.name)}`);
        out.objects[`EVENT ${s}.${r.name}`] = String(Object.values(c4 ?? {})[3] ?? '');
      }
    }
    for (const a of accounts) {
      const g = await queryRows<Record<string, string>>(conn, `SHOW GRANTS FOR ${a}`);
      out.grants[a] = g.map((x) => Object.values(x)[0] ?? '').sort();
    }
    return out;
  } finally {
    await closeQuietly(conn);
  }
}
