/**
 * The schema inventory: which schemas, tables, views, routines, triggers and
 * events a server holds (outside the system schemas). A backup records it in
 * its manifest; a drill compares the restored server's inventory with it.
 */
import type { Connection } from 'mysql2/promise';
import { queryRows } from './connect.js';
import { SYSTEM_SCHEMAS } from './flavor.js';

/** A table with the facts a restore check needs. */
export interface TableEntry {
  schema: string;
  name: string;
  /** BASE TABLE, SYSTEM VERSIONED (MariaDB) or SEQUENCE (MariaDB). */
  type: string;
  engine: string | null;
}

/** Everything a logical backup must bring back, by name. */
export interface Inventory {
  schemas: string[];
  tables: TableEntry[];
  views: Array<{ schema: string; name: string }>;
  routines: Array<{ schema: string; name: string; type: string }>;
  triggers: Array<{ schema: string; name: string; table: string }>;
  events: Array<{ schema: string; name: string }>;
}

/** Schemas that are not the server's own, sorted. */
export async function userSchemas(conn: Connection): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(conn, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA');
  return rows.map((r) => r.name).filter((s) => !SYSTEM_SCHEMAS.includes(s.toLowerCase())).sort();
}

/** Read the inventory of the given schemas. */
export async function readInventory(conn: Connection, schemas: string[]): Promise<Inventory> {
  if (schemas.length === 0) return { schemas: [], tables: [], views: [], routines: [], triggers: [], events: [] };
  const inList = schemas.map(() => '?').join(',');
  const tables = await queryRows<{ schema: string; name: string; type: string; engine: string | null }>(
    conn,
    `SELECT TABLE_SCHEMA AS \`schema\`, TABLE_NAME AS name, TABLE_TYPE AS type, ENGINE AS engine
       FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${inList}) AND TABLE_TYPE <> 'TEMPORARY'`,
    schemas,
  );
  const routines = await queryRows<{ schema: string; name: string; type: string }>(
    conn,
    `SELECT ROUTINE_SCHEMA AS \`schema\`, ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (${inList})`,
    schemas,
  );
  const triggers = await queryRows<{ schema: string; name: string; table: string }>(
    conn,
    `SELECT TRIGGER_SCHEMA AS \`schema\`, TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS \`table\` FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (${inList})`,
    schemas,
  );
  const events = await queryRows<{ schema: string; name: string }>(
    conn,
    `SELECT EVENT_SCHEMA AS \`schema\`, EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (${inList})`,
    schemas,
  );
  const present = new Set((await userSchemas(conn)).filter((s) => schemas.includes(s)));
  return sortInventory({
    schemas: [...present],
    tables: tables.filter((t) => t.type !== 'VIEW').map((t) => ({ schema: t.schema, name: t.name, type: t.type, engine: t.engine })),
    views: tables.filter((t) => t.type === 'VIEW').map((t) => ({ schema: t.schema, name: t.name })),
    routines,
    triggers,
    events,
  });
}

function byKey<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

/** Sort every list so that two inventories compare by position. */
export function sortInventory(inv: Inventory): Inventory {
  const sn = (x: { schema: string; name: string }) => `${x.schema}\u0000${x.name}`;
  return {
    schemas: [...inv.schemas].sort(),
    tables: [...inv.tables].sort(byKey(sn)),
    views: [...inv.views].sort(byKey(sn)),
    routines: [...inv.routines].sort(byKey((r) => `${sn(r)}\u0000${r.type}`)),
    triggers: [...inv.triggers].sort(byKey(sn)),
    events: [...inv.events].sort(byKey(sn)),
  };
}

/** Differences between an expected and an actual inventory, as readable lines. */
export function diffInventory(expected: Inventory, actual: Inventory): string[] {
  const out: string[] = [];
  const cmp = (what: string, exp: string[], act: string[]) => {
    const a = new Set(act);
    const e = new Set(exp);
    for (const x of exp) if (!a.has(x)) out.push(`${what} ${x} is missing`);
    for (const x of act) if (!e.has(x)) out.push(`${what} ${x} is unexpected`);
  };
  const q = (x: { schema: string; name: string }) => `\`${x.schema}\`.\`${x.name}\``;
  cmp('schema', expected.schemas.map((s) => `\`${s}\``), actual.schemas.map((s) => `\`${s}\``));
  cmp('table', expected.tables.map((t) => `${q(t)} (${t.type})`), actual.tables.map((t) => `${q(t)} (${t.type})`));
  cmp('view', expected.views.map(q), actual.views.map(q));
  cmp('routine', expected.routines.map((r) => `${r.type.toLowerCase()} ${q(r)}`), actual.routines.map((r) => `${r.type.toLowerCase()} ${q(r)}`));
  cmp('trigger', expected.triggers.map(q), actual.triggers.map(q));
  cmp('event', expected.events.map(q), actual.events.map(q));
  return out;
}
