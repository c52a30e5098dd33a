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
  /** What it holds: the data dump or the accounts. */
  role: z.enum(['data', 'users']),
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
  format: z.literal(1),
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
  /** Whatever Backtrack wants a human reading the manifest to know. */
  notes: z.array(z.string()).default([]),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestObject = Manifest['objects'][number];
export type ManifestInventory = Manifest['inventory'];
