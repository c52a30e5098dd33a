/**
 * The manifest: the JSON that describes one backup and, by being written
 * last, commits it. It is also the plan a restore follows and the expected
 * answer a drill checks against. Parsed with this schema on every read, so a
 * damaged manifest is an error that names it, not a crash later.
 */
import { z } from 'zod';

const ObjectEntry = z.object({
  /** File name inside the backup's folder. */
  name: z.string(),
  /**
   * What it holds. Format 1 (one stream): `data` (the whole dump) and
   * `users`. Format 2 (table by table): `schema` (one database's CREATE
   * DATABASE, tables and sequences, no data), `table` (one table's rows, or
   * one chunk of them), `post` (one database's views, triggers, routines and
   * events) and `users`.
   */
  role: z.enum(['data', 'users', 'schema', 'table', 'post']),
  /** schema, table, post: the database it belongs to. */
  schema: z.string().optional(),
  /** table: the table whose rows it holds. */
  table: z.string().optional(),
  /** table: which chunk of the table (by primary-key range), when it is split. */
  chunk: z.object({ index: z.number().int().nonnegative(), count: z.number().int().positive(), column: z.string(), from: z.string().nullable(), to: z.string().nullable() }).optional(),
  /** table: the exact number of rows it holds. */
  rows: z.number().int().nonnegative().optional(),
  /** Bytes stored (after compression and encryption). */
  size: z.number().int().nonnegative(),
  /** sha256 of the stored bytes: `sha256sum` of the object gives the same. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Bytes before compression (the SQL text). */
  rawSize: z.number().int().nonnegative(),
  compression: z.literal('zstd'),
  encryption: z.enum(['age']).nullable(),
});

const Snapshot = z.object({
  file: z.string(),
  position: z.number().int().nonnegative(),
  gtid: z.string(),
});

const TableRows = z.object({
  schema: z.string(),
  table: z.string(),
  rows: z.number().int().nonnegative(),
  /** System-versioned table dumped with its history: rows count history too. */
  history: z.boolean().default(false),
});

const InventorySchema = z.object({
  schemas: z.array(z.string()),
  tables: z.array(z.object({ schema: z.string(), name: z.string(), type: z.string(), engine: z.string().nullable() })),
  views: z.array(z.object({ schema: z.string(), name: z.string() })),
  routines: z.array(z.object({ schema: z.string(), name: z.string(), type: z.string() })),
  triggers: z.array(z.object({ schema: z.string(), name: z.string(), table: z.string() })),
  events: z.array(z.object({ schema: z.string(), name: z.string() })),
});

export const ManifestSchema = z.object({
  /** 1: one stream (data.sql); 2: table by table. */
  format: z.union([z.literal(1), z.literal(2)]),
  id: z.string(),
  source: z.string(),
  engine: z.object({ name: z.literal('mysqldump'), tool: z.string(), toolVersion: z.string(), args: z.array(z.string()) }),
  server: z.object({
    flavor: z.enum(['mariadb', 'mysql']),
    version: z.string(),
    identity: z.object({ serverUuid: z.string().optional(), serverId: z.number(), hostname: z.string(), port: z.number() }),
  }),
  startedAt: z.string(),
  finishedAt: z.string(),
  /** Binlog coordinates the dump is consistent at; null when the source has no binlog. */
  snapshot: Snapshot.nullable(),
  objects: z.array(ObjectEntry).min(1),
  inventory: InventorySchema,
  rowCounts: z.array(TableRows),
  /** Accounts and roles in users.sql ('user'@'host', or "role 'name'"). */
  accounts: z.array(z.string()),
  /** Format 2: the dump sessions and the lock that made them share one snapshot. */
  parallel: z
    .object({
      sessions: z.number().int().positive(),
      parallelism: z.number().int().positive(),
      lock: z.object({ method: z.string(), waitedSeconds: z.number(), heldSeconds: z.number() }).nullable(),
    })
    .optional(),
  /** Whatever Backtrack wants a human reading the manifest to know. */
  notes: z.array(z.string()).default([]),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestObject = Manifest['objects'][number];
export type ManifestInventory = Manifest['inventory'];
