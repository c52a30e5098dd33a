/**
 * The engine interface: how one kind of backup is taken and loaded back.
 * `mysqldump` is the first engine; parallel and physical engines implement
 * the same two operations.
 *
 * Contract:
 *  - dump() writes its objects, by name, through the backup's writer it is
 *    given and returns what the manifest needs. It never writes the
 *    manifest (the caller commits). If it fails or is aborted, it rejects and
 *    whatever it stored is left for the caller's cleanup; no object it
 *    reported as stored is ever truncated.
 *  - load() reads a committed backup's objects, checking each object's sha256
 *    and size as it streams, and applies them to a server. It rejects with
 *    ChecksumError naming the object on any mismatch, and with a ToolError
 *    carrying the server's message when SQL fails.
 */
import type { Inventory } from '../mysql/inventory.js';
import type { ConnectionSpec } from '../mysql/connect.js';
import type { ServerInfo } from '../mysql/server.js';
import type { SnapshotPoint } from '../mysql/flavor.js';
import type { ObjectReader, ObjectWriter } from '../storage/store.js';
import type { CodecOptions } from '../pipeline/stages.js';
import type { StoredObject } from '../pipeline/upload.js';

/** Everything a dump needs. */
export interface DumpContext {
  source: ConnectionSpec;
  server: ServerInfo;
  /** Schemas to dump. */
  schemas: string[];
  /** Inventory read before the dump (the dump is checked against it). */
  inventory: Inventory;
  /** The backup's objects, by name ("data.sql.zst"). */
  objects: ObjectWriter;
  codec: CodecOptions;
  includeUsers: boolean;
  tools: { dump?: string | undefined };
  extraArgs: string[];
  signal?: AbortSignal | undefined;
  onRawBytes?: (n: number) => void;
  /** The expected dump size (bytes of table data), for upload sizing. */
  sizeHint?: number | undefined;
  /** `tables`: one object per table from parallel sessions (format 2); `stream`: one object (format 1). */
  layout: 'tables' | 'stream';
  parallelism: number;
  chunkSize: number;
  maxSessions: number;
  lockTimeoutMs: number;
  /** Tests only: ways to make the sessions disagree on purpose. */
  hooks?: DumpHooks | undefined;
}

/** Test hooks of a table-by-table dump. */
export interface DumpHooks {
  /** Do not take the commit lock. */
  noLock?: boolean;
  /** Called after each session is started, before the next. */
  afterSessionStart?: (index: number) => Promise<void>;
}

/** Where an object belongs in a table-by-table backup. */
export interface ObjectPlace {
  schema?: string | undefined;
  table?: string | undefined;
  chunk?: { index: number; count: number; column: string; from: string | null; to: string | null } | undefined;
  rows?: number | undefined;
}

export type ObjectRole = 'data' | 'users' | 'schema' | 'table' | 'post';

/** A stored object with its role in the backup. */
export interface EngineObject extends StoredObject, ObjectPlace {
  name: string;
  role: ObjectRole;
}

/** What a dump produced. */
export interface DumpResult {
  tool: string;
  toolVersion: string;
  args: string[];
  objects: EngineObject[];
  snapshot: SnapshotPoint | null;
  rowCounts: Array<{ schema: string; table: string; rows: number; history: boolean }>;
  accounts: string[];
  notes: string[];
  /** 1: one stream; 2: table by table. */
  format: 1 | 2;
  parallel?: { sessions: number; parallelism: number; lock: { method: string; waitedSeconds: number; heldSeconds: number } | null } | undefined;
}

/** One object to load, as the manifest lists it. */
export interface LoadObject extends ObjectPlace {
  key: string;
  role: ObjectRole;
  size: number;
  sha256: string;
  encrypted: boolean;
  rawSize?: number | undefined;
}

/** Everything a load needs. */
export interface LoadContext {
  target: ConnectionSpec;
  /** The backup's objects, by name. */
  store: ObjectReader;
  objects: LoadObject[];
  /** The backup's format: 1 loads the one stream; 2 loads table by table, `parallel` objects at a time. */
  format: 1 | 2;
  parallel: number;
  codec: Pick<CodecOptions, 'zstd' | 'age'>;
  /** The SQL client program (mariadb or mysql, or the configured one). */
  client: string;
  /** Leave out accounts and grants. */
  skipUsers: boolean;
  /** Do not write the load into the target's binary log. */
  noBinlog: boolean;
  signal?: AbortSignal | undefined;
  onBytes?: (n: number) => void;
  /** Format 2: an object started or finished loading. */
  onObject?: (o: LoadObject, state: 'start' | 'done') => void;
  /**
   * A partial restore (format 2): the chosen schemas, each with its name on
   * the target and its chosen tables. `objects` holds only what they need.
   */
  selection?: { schemas: Array<{ schema: string; target: string; whole: boolean; tables: string[] }> } | undefined;
  /** Things left out while loading (a view whose tables were not restored), as warnings. */
  onSkip?: (what: string) => void;
}

/** What a load did. */
export interface LoadResult {
  bytesRead: number;
  rawBytes: number;
  /** Warnings the server raised while loading (the client's --show-warnings). */
  warnings: number;
  warningSamples: string[];
  /** Objects loaded in parallel (1 for a one-stream backup). */
  parallel?: number;
}

export interface Engine {
  readonly name: 'mysqldump';
  dump(ctx: DumpContext): Promise<DumpResult>;
  load(ctx: LoadContext): Promise<LoadResult>;
}

export type { SnapshotPoint };
