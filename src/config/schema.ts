/**
 * The one table of every configuration option. Each option's type, default and
 * meaning live here and nowhere else: the loader validates with it, README's
 * option reference is generated from it (`npm run docs:config`), and defaults
 * are applied by it. Secrets never appear in this file's shape: only paths to
 * files or names of environment variables that hold them.
 */
import { z } from 'zod';
import { validate as validCron } from 'node-cron';
import { DURATION_PATTERN, parseDuration } from './duration.js';

/**
 * A duration string (`5s`, `10m`, `7d`) parsed to milliseconds, never below
 * `min`: a zero interval would hammer the source or the repository (an
 * uploadInterval of 0s wrote 100 objects a second). The minimum is shown in
 * the generated reference (meta `durationMinimum`).
 */
const duration = (what: string, min: string) => {
  const minMs = parseDuration(min) as number;
  return z
    .string()
    .regex(DURATION_PATTERN, { message: `${what} must be a duration such as 500ms, 5s, 10m, 6h, 7d` })
    .transform((s) => parseDuration(s) as number)
    .refine((ms) => ms >= minMs, { message: `${what} must be at least ${min}` })
    .meta({ durationMinimum: min });
};

/** A byte size (`512MiB`, `2GiB`, `1000000`) parsed to bytes, never below `min` bytes. */
const SIZE_PATTERN = /^(\d+)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$/;
const SIZE_UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
const size = (what: string, min: number) =>
  z
    .string()
    .regex(SIZE_PATTERN, { message: `${what} must be a size such as 256MiB, 1GiB or a number of bytes` })
    .transform((v) => {
      const m = SIZE_PATTERN.exec(v) as RegExpExecArray;
      return Number(m[1]) * (SIZE_UNITS[m[2] ?? 'B'] as number);
    })
    .refine((n) => n >= min, { message: `${what} must be at least ${min / 1024 / 1024} MiB` })
    .meta({ sizeMinimum: `${min / 1024 / 1024}MiB` });

/**
 * A local path option. The loader makes every option marked so absolute,
 * relative to the config file's directory (load.ts walks the schema for the
 * mark), and the reference says so: a new path option needs nothing else.
 * `location` is the repository url: a URL stays as it is, anything else is a
 * directory path.
 */
export type PathKind = 'file' | 'location';
const localPath = (kind: PathKind = 'file') => z.string().meta({ path: kind });

/** An IANA time zone name that this Node.js knows (Intl is what the scheduler uses). */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** host:port or [v6]:port, with a port in 0..65535 (0: any free port). */
export const LISTEN_PATTERN = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/;

/** A cron expression: five fields, or six with seconds first (node-cron syntax). */
const cron = z
  .string()
  .refine((s) => [5, 6].includes(s.trim().split(/\s+/).length) && validCron(s), {
    message: 'a schedule is a cron expression of 5 fields (min hour day month weekday) or 6 (seconds first), e.g. "0 3 * * *"',
  });

export const SECRET_HINT = 'secrets are never written in the config file: use passwordFile (a path) or passwordEnv (a variable name)';

/** Connection settings for a MySQL/MariaDB server. */
export const MysqlConnectionSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('Server host name or IP address.'),
    port: z.number().int().min(1).max(65535).default(3306).describe('Server TCP port.'),
    socket: localPath().optional().describe('Unix socket path; used instead of host/port when set.'),
    user: z.string().min(1).default('backtrack').describe('Account Backtrack logs in as.'),
    passwordFile: localPath().optional().describe('File whose first line is the password.'),
    passwordEnv: z.string().optional().describe('Environment variable that holds the password.'),
    connectTimeout: duration('connectTimeout', '100ms').prefault('10s').describe('How long to wait for a connection (e.g. 10s).'),
  })
  .strict();

const BackupSchema = z
  .object({
    schedule: cron.optional().describe('When the daemon takes a full backup (cron, in `timezone`). Unset: never on schedule.'),
    engine: z.enum(['mysqldump']).default('mysqldump').describe('Backup engine. `mysqldump` runs mariadb-dump or mysqldump.'),
    compression: z.enum(['zstd']).default('zstd').describe('Compression of stored objects.'),
    compressionLevel: z.number().int().min(1).max(19).default(3).describe('zstd level (1 fastest .. 19 smallest).'),
    compressionThreads: z.number().int().min(0).max(64).default(0).describe('zstd worker threads; 0 means one per core.'),
    databases: z.array(z.string().min(1)).optional().describe('Schemas to back up. Unset: every schema except the system ones.'),
    excludeDatabases: z.array(z.string().min(1)).default([]).describe('Schemas to leave out.'),
    users: z.boolean().default(true).describe('Also back up accounts, roles and grants as portable SQL (users.sql object).'),
    extraDumpArgs: z.array(z.string()).default([]).describe('Extra arguments appended to the dump command line. They must not change the form of the INSERT statements (no --insert-ignore, --replace, --skip-hex-blob): row counts are read from them.'),
    layout: z
      .enum(['tables', 'stream'])
      .default('tables')
      .describe('`tables`: one object per table (large tables in chunks by primary key), dumped by parallel sessions from one snapshot; restores load in parallel and can take one schema or table. `stream`: the whole dump as one object, as Backtrack wrote before (one session, no lock).'),
    parallelism: z.number().int().min(1).max(64).optional().describe('Dump sessions of a `tables` backup. Default: the number of cores.'),
    chunkSize: size('chunkSize', 16 * 1024 * 1024).prefault('256MiB').describe('A table larger than this (by its data size) is dumped in chunks of about this size, by ranges of its integer primary key, each its own object and session.'),
    maxSessions: z.number().int().min(1).max(256).default(32).describe('At most this many dump sessions are opened under the commit lock (chunks grow to fit).'),
    lockTimeout: duration('lockTimeout', '100ms').prefault('5s').describe('How long the backup may wait for the lock that blocks commits while its sessions open their snapshot (BACKUP STAGE BLOCK_COMMIT on MariaDB, FLUSH TABLES WITH READ LOCK on MySQL). A long query or transaction can hold it up: the backup then fails instead of stalling the source\'s writes.'),
  })
  .strict();

const BinlogSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Archive this source\'s binary log continuously.'),
    uploadInterval: duration('uploadInterval', '200ms').prefault('5s').describe('How often new bytes of the active binlog are uploaded (the recovery point lag).'),
    foldPieces: z.number().int().min(2).max(256).default(16).describe('The active binlog file goes up as a piece every uploadInterval; this many pieces of one size are folded into one (read back and checked before the small ones are deleted), so a file that stays active for months is held in a bounded number of objects (16: a day of 5s pieces in at most 60).'),
    spoolDir: localPath().optional().describe('Local directory for the binlog stream before upload. Default: <workDir>/spool/<source>.'),
    replicaServerId: z.number().int().min(1).max(4294967295).optional().describe('server_id the binlog stream uses on the source (must differ from every replica). Default: derived from the source name, above 4000000000.'),
  })
  .strict();

const ScratchSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('spawn').describe('Start a throwaway server of the same flavor on a free loopback port.'),
      serverBinary: z.string().optional().describe('mariadbd/mysqld to run. Default: found on PATH or in /usr/sbin.'),
      startTimeout: duration('startTimeout', '1s').prefault('2m').describe('How long the scratch server may take to start.'),
      bufferPoolSize: z.string().default('256M').describe('innodb_buffer_pool_size of the scratch server.'),
    })
    .strict(),
  z
    .object({
      mode: z.literal('server').describe('Use an existing server as scratch. Only the schemas being restored are dropped and created.'),
      connection: MysqlConnectionSchema.describe('How to reach the scratch server.'),
    })
    .strict(),
]);

const HeartbeatSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Write a heartbeat row on the source so point-in-time drills can check the recovered point.'),
    schema: z.string().default('backtrack').describe('Schema holding the heartbeat table (created if missing).'),
    interval: duration('heartbeat.interval', '100ms').prefault('1s').describe('How often the daemon writes the heartbeat.'),
  })
  .strict();

const VerifySchema = z
  .object({
    schedule: cron.optional().describe('When the daemon runs a restore drill of the newest unverified backup.'),
    scratch: ScratchSchema.prefault({ mode: 'spawn' }).describe('Where drills restore to.'),
    pointInTime: z.boolean().default(true).describe('Scheduled drills also replay the binlog to the newest archived point.'),
    timeout: duration('verify.timeout', '10s').prefault('6h').describe('A drill taking longer fails.'),
    heartbeat: HeartbeatSchema.prefault({}).describe('Heartbeat rows that prove a point-in-time drill reached the right point.'),
  })
  .strict();

/** One protected MySQL/MariaDB server. */
export const SourceSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, { message: 'a source name is lower-case letters, digits, _ . - (it names folders in the repository)' })
      .describe('Name of the source; it names the source\'s folder in the repository.'),
    mysql: MysqlConnectionSchema.prefault({}).describe('How to reach the source.'),
    backup: BackupSchema.prefault({}).describe('Full backups.'),
    binlog: BinlogSchema.prefault({}).describe('Continuous binlog archiving.'),
    verify: VerifySchema.prefault({}).describe('Restore drills.'),
    prune: z.object({ schedule: cron.optional().describe('When the daemon applies retention to this source.') }).strict().prefault({}).describe('Retention schedule.'),
  })
  .strict();

const S3Schema = z
  .object({
    endpoint: z.url().optional().describe('S3 endpoint for S3-compatible stores (MinIO, Ceph, s3rver). Unset: AWS.'),
    region: z.string().default('us-east-1').describe('S3 region.'),
    forcePathStyle: z.boolean().default(false).describe('Path-style addressing (bucket in the path), needed by most S3-compatible stores.'),
    partSize: z.number().int().min(5).max(512).default(8).describe('Multipart part size in MiB. Memory used per upload is about partSize x (queueSize + 1). Raised automatically for objects whose expected size needs more than 9000 parts.'),
    queueSize: z.number().int().min(1).max(16).default(2).describe('Parts uploaded in parallel per object.'),
    storageClass: z.string().optional().describe('Storage class for new objects (e.g. STANDARD_IA).'),
    objectLock: z
      .object({
        mode: z.enum(['GOVERNANCE', 'COMPLIANCE']).default('GOVERNANCE').describe('Object Lock mode of what Backtrack writes. COMPLIANCE: nobody, not even the account root, can delete a locked version before its date; GOVERNANCE: only a principal with s3:BypassGovernanceRetention can.'),
        minRetainDays: z.number().int().min(1).max(36500).default(14).describe('Days every object is locked for when written; prune extends the locks of what retention still keeps (kept backups, the binlog they and the recovery window need) to this many days from the day it runs. Binlog pieces get 1 day: the whole file carries the long lock; a piece still needed after 12 hours gets the long lock from the archiver; prune deletes the pieces a whole file or a fold covers once their lock has run out.'),
      })
      .strict()
      .optional()
      .describe('Write into an S3 bucket with Object Lock (a versioned bucket created with Object Lock enabled): objects are written locked, deletions go by version id once the lock has run out, and objects hidden by delete markers are read through and reported. Unset: plain S3 writes and deletes.'),
  })
  .strict();

const RepositorySchema = z
  .object({
    url: localPath('location')
      .min(1)
      .default('file:///var/lib/backtrack')
      .describe('Where everything is kept: `s3://bucket/prefix`, `file:///absolute/dir`, or a directory path (relative to the config file).'),
    s3: S3Schema.prefault({}).describe('S3 settings; credentials come from the standard AWS chain (env, profile, instance role).'),
    encryption: z
      .object({
        recipientsFile: localPath().describe('age recipients file (public keys); objects are encrypted to these.'),
        identityFile: localPath().optional().describe('age identity file (private key), needed by restore and drills.'),
      })
      .strict()
      .optional()
      .describe('Encrypt every stored object with age. Unset: no encryption.'),
    retry: z
      .object({
        attempts: z.number().int().min(1).max(20).default(5).describe('Attempts for a failed repository request.'),
        baseDelay: duration('retry.baseDelay', '10ms').prefault('200ms').describe('First retry delay; doubles each attempt, with jitter.'),
      })
      .strict()
      .prefault({})
      .describe('Retry of transient repository errors.'),
  })
  .strict();

const RetentionSchema = z
  .object({
    keepLast: z.number().int().min(1).default(7).describe('Keep the newest N backups.'),
    keepDaily: z.number().int().min(0).default(7).describe('Keep the newest backup of each of the last N days.'),
    keepWeekly: z.number().int().min(0).default(4).describe('Keep the newest backup of each of the last N ISO weeks.'),
    keepMonthly: z.number().int().min(0).default(6).describe('Keep the newest backup of each of the last N months.'),
    keepWithin: duration('keepWithin', '1m').optional().describe('Keep every backup, and point-in-time recovery, within this duration of now (e.g. 7d).'),
  })
  .strict();

const HttpSchema = z
  .object({
    listen: z
      .string()
      .regex(LISTEN_PATTERN, { message: 'listen is host:port or [v6]:port, e.g. 127.0.0.1:9464' })
      .refine((l) => Number(LISTEN_PATTERN.exec(l)?.[2]) <= 65535, { message: 'the port of listen must be 0..65535' })
      .default('127.0.0.1:9464')
      .describe('Address the daemon\'s HTTP server listens on.'),
    tokenFile: localPath().optional().describe('File holding the bearer token for /api/v1. Unset: the API is disabled.'),
    advertiseUrl: z
      // A host name or an address: an unexpanded $(POD_IP) (a Kubernetes variable used before it is defined) is refused here, not met at the first forwarded request.
      .url({ protocol: /^https?$/, hostname: /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)$/, message: 'advertiseUrl is an http:// or https:// URL with a host name or address, e.g. http://10.0.0.7:9464 (an unexpanded $(VAR) is not one)' })
      .optional()
      .describe('The URL other daemons reach this one\'s HTTP server at (on Kubernetes: http://$(POD_IP):9464). A leader records it in the repository; a daemon asked for a source it does not lead forwards the request there. Default: http://<host name>:<port>, or the listen address when it is not 0.0.0.0.'),
    protectMetrics: z.boolean().default(false).describe('Require the token for /metrics, /healthz and /readyz too.'),
  })
  .strict();

const ToolsSchema = z
  .object({
    dump: z.string().optional().describe('Dump tool. Default: mariadb-dump for MariaDB, mysqldump for MySQL.'),
    client: z.string().optional().describe('SQL client. Default: mariadb or mysql.'),
    binlog: z.string().optional().describe('Binlog tool. Default: mariadb-binlog or mysqlbinlog.'),
    zstd: z.string().default('zstd').describe('zstd binary.'),
    age: z.string().default('age').describe('age binary (only with encryption).'),
  })
  .strict();

/** The whole configuration file. */
export const ConfigSchema = z
  .object({
    repository: RepositorySchema.prefault({}).describe('The repository.'),
    sources: z.array(SourceSchema).min(1, { message: 'configure at least one source' }).describe('The servers to protect.'),
    retention: RetentionSchema.prefault({}).describe('Which backups to keep.'),
    http: HttpSchema.prefault({}).describe('The daemon\'s HTTP server: metrics, health, API.'),
    timezone: z
      .string()
      .default('UTC')
      .refine(isTimeZone, { message: 'timezone must be an IANA time zone name such as UTC, Europe/Berlin or America/New_York' })
      .describe('Time zone for schedules (IANA name, e.g. Europe/Berlin).'),
    workDir: localPath().default('/var/lib/backtrack-work').describe('Local working directory: binlog spool, scratch datadirs, temp files.'),
    tools: ToolsSchema.prefault({}).describe('Paths of external tools, when not the defaults on PATH.'),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info').describe('Log level.') })
      .strict()
      .prefault({})
      .describe('Logging (JSON to stderr).'),
    shutdownTimeout: duration('shutdownTimeout', '1s').prefault('30s').describe('On SIGTERM the daemon finishes within this time.'),
    daemon: z
      .object({
        leaderRetry: duration('daemon.leaderRetry', '100ms').prefault('2s').describe('How often a standby daemon tries to take a source\'s leader lock, and the leader checks it still holds it.'),
        lockSessionTimeout: duration('daemon.lockSessionTimeout', '1s').prefault('30s').describe('wait_timeout of the leader lock\'s session: if the leader\'s host vanishes, the server frees the lock after this. Takeover takes at most this plus leaderRetry.'),
        refreshInterval: duration('daemon.refreshInterval', '1s').prefault('60s').describe('How often repository-wide metrics (window, sizes, gaps) are recomputed.'),
        catchUp: z.boolean().default(true).describe('On start (and on becoming leader), run a backup or drill at once when the last success is older than its schedule\'s period.'),
      })
      .strict()
      .prefault({})
      .describe('The daemon: leadership between several daemons, and housekeeping.'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.sources.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['sources', i, 'name'], message: `source name "${s.name}" is used twice` });
      seen.add(s.name);
    });
  });

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type SourceConfig = Config['sources'][number];
export type MysqlConnectionConfig = z.output<typeof MysqlConnectionSchema>;
export type ScratchConfig = SourceConfig['verify']['scratch'];
export type RepositoryConfig = Config['repository'];
export type RetentionConfig = Config['retention'];
