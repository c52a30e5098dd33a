/**
 * `backtrack check`: everything that would make a backup, an archive or a
 * drill fail, found before it runs: the config, each source (reachable, the
 * password right, binlog on, grants), the tools on PATH, and the repository
 * (reachable and writable).
 */
import type { Config, SourceConfig } from '../config/schema.js';
import { readApiTokens } from '../config/secrets.js';
import { BacktrackError, asBacktrackError } from '../errors.js';
import { loadChain } from '../binlog/chain.js';
import { checkReplayTool } from '../binlog/replay.js';
import type { Repository } from '../repository/repository.js';
import { closeQuietly, connect } from '../mysql/connect.js';
import { canWriteHeartbeat, checkGrants, grantStatement } from '../mysql/grants.js';
import { serverInfo, type ServerInfo } from '../mysql/server.js';
import { runToolText } from '../pipeline/spawn.js';
import { findBinary } from '../scratch/spawn.js';
import { openRepository, sourceSpec, toolPaths } from '../runtime/context.js';
import { toolsFor } from '../mysql/flavor.js';

/** One check's verdict. */
export interface CheckResult {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** What to do when it is not ok. */
  fix?: string | undefined;
}

const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail });
const fail = (name: string, detail: string, fix?: string): CheckResult => ({ name, status: 'fail', detail, fix });
const warn = (name: string, detail: string, fix?: string): CheckResult => ({ name, status: 'warn', detail, fix });

/** Run every check; never throws for a failed check. */
export async function runChecks(cfg: Config, configFile: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [ok('config', `${configFile} is valid (${cfg.sources.length} source${cfg.sources.length === 1 ? '' : 's'})`)];
  const repo = await openRepository(cfg, 'read').catch((err: unknown) => asBacktrackError(err));
  results.push(await checkRepository(repo));
  if (!(repo instanceof BacktrackError)) {
    const lock = await checkObjectLock(cfg, repo);
    if (lock) results.push(lock);
  }
  if (cfg.http.tokenFile) results.push(checkTokens(cfg.http.tokenFile));
  for (const s of cfg.sources) {
    results.push(...(await checkSource(cfg, s)));
    if (!(repo instanceof BacktrackError)) results.push(await checkContents(repo, s));
  }
  return results;
}

async function checkRepository(repo: Repository | BacktrackError): Promise<CheckResult> {
  if (repo instanceof BacktrackError) return fail('repository', repo.message, 'fix repository.url');
  try {
    await repo.probeWritable();
    return ok('repository', `${repo.location} is reachable and writable`);
  } catch (err) {
    return fail('repository', asBacktrackError(err).message, 'fix repository.url / repository.s3, the credentials, or the directory permissions');
  }
}

/**
 * An S3 repository: whether the bucket keeps versions and has Object Lock,
 * against what repository.s3.objectLock asks for.
 */
async function checkObjectLock(cfg: Config, repo: Repository): Promise<CheckResult | undefined> {
  const name = 'repository object lock';
  let st;
  try {
    st = await repo.bucketLockStatus();
  } catch (err) {
    return (cfg.repository.s3.objectLock ? fail : warn)(name, asBacktrackError(err).message, 'allow s3:GetBucketVersioning and s3:GetBucketObjectLockConfiguration to the credentials');
  }
  if (!st) return undefined;
  const want = cfg.repository.s3.objectLock;
  const bucket = `versioning ${st.versioning}, Object Lock ${st.objectLock ? 'enabled' : 'not enabled'}${st.defaultRetention ? ` (default retention ${st.defaultRetention.mode} ${st.defaultRetention.days ?? 0}d ${st.defaultRetention.years ?? 0}y)` : ''}`;
  if (want) {
    if (!st.objectLock || st.versioning !== 'Enabled') {
      return fail(name, `repository.s3.objectLock asks for ${want.mode} locks of ${want.minRetainDays} day(s), but the bucket has ${bucket}`, 'use a bucket with Object Lock enabled (aws s3api put-object-lock-configuration --bucket B --object-lock-configuration ObjectLockEnabled=Enabled on a versioned bucket), or remove repository.s3.objectLock');
    }
    if (want.minRetainDays < 2) return warn(name, `${bucket}; but minRetainDays is ${want.minRetainDays}: a kept object's lock can run out between two daily prunes before prune extends it`, 'set repository.s3.objectLock.minRetainDays to 2 or more (14 by default)');
    return ok(name, `${bucket}; Backtrack writes every object in ${want.mode} mode for ${want.minRetainDays} day(s) and extends what retention keeps`);
  }
  if (st.objectLock) {
    return warn(name, `the bucket has ${bucket}, but repository.s3.objectLock is not set: Backtrack's deletions leave delete markers over locked versions, and list does not look through markers`, 'set repository.s3.objectLock { mode, minRetainDays } to match the bucket');
  }
  return ok(name, `${bucket}; no Object Lock (anyone with the repository's credentials can delete backups; see README, "Immutable repositories")`);
}

/** What the repository holds for a source: backups Backtrack cannot use, and gaps, need a person. */
async function checkContents(repo: Repository, s: SourceConfig): Promise<CheckResult> {
  const name = `source ${s.name}: repository contents`;
  try {
    const { backups, damaged, orphans } = await repo.listBackups(s.name);
    const gaps = (await loadChain(repo, s.name)).flatMap((t) => t.gaps);
    const hidden = await repo.hiddenObjects(s.name);
    const problems = [
      ...(hidden.length ? [`${hidden.length} object(s) hidden by delete markers Backtrack did not write (someone deleted them with the repository's credentials; Object Lock kept the data), e.g. ${hidden[0]!.key}`] : []),
      ...damaged.map((d) => `damaged backup ${d.id}`),
      ...orphans.map((o) => `orphan backup ${o.id} (committed ${o.committedAt}, manifest missing)`),
      ...gaps.map((g) => `binlog gap in ${g.timeline}: ${g.detail}`),
    ];
    if (problems.length === 0) return ok(name, `${backups.length} committed backup(s), no damaged or orphaned backup, no binlog gap`);
    return fail(name, problems.join('; '), `backtrack list shows each; restore by hand from an orphan's objects if you need it, remove unusable backups with backtrack prune --orphans, and take a backup after a gap${hidden.length ? '; unhide hidden objects by deleting their delete markers (README, "Immutable repositories") and find out who deleted them' : ''}`);
  } catch (err) {
    return fail(name, asBacktrackError(err).message);
  }
}

function checkTokens(file: string): CheckResult {
  try {
    const tokens = readApiTokens(file);
    return ok('http api tokens', `${file} holds ${tokens.length} token(s): ${tokens.map((t) => t.name).join(', ')}`);
  } catch (err) {
    return fail('http api tokens', asBacktrackError(err).message);
  }
}

async function checkSource(cfg: Config, s: SourceConfig): Promise<CheckResult[]> {
  const name = `source ${s.name}`;
  let info: ServerInfo;
  const out: CheckResult[] = [];
  let conn;
  try {
    conn = await connect(sourceSpec(s));
    info = await serverInfo(conn);
    out.push(ok(`${name}: connection`, `${s.mysql.host}:${s.mysql.port} is ${info.flavor} ${info.version.text}, server_id ${info.identity.serverId}`));
  } catch (err) {
    await closeQuietly(conn);
    return [fail(`${name}: connection`, asBacktrackError(err).message)];
  }
  try {
    if (!info.logBin) out.push((s.binlog.enabled ? fail : warn)(`${name}: binary log`, 'log_bin is OFF: no point-in-time recovery and no snapshot points', 'enable log_bin (and set server_id) in the server config and restart it'));
    else if (info.binlogFormat.toUpperCase() !== 'ROW') out.push(warn(`${name}: binary log`, `binlog_format is ${info.binlogFormat}; ROW is the safe format for replay`, 'SET GLOBAL binlog_format=ROW and in the server config'));
    else out.push(ok(`${name}: binary log`, `on, format ${info.binlogFormat}`));
    const g = await checkGrants(conn, info.flavor, s.binlog.enabled);
    if (g.missing.length) {
      out.push(fail(`${name}: grants`, `the account lacks ${g.missing.map((m) => `${m.privilege} (${m.why})`).join(', ')}`, `${grantStatement(info.flavor, `'${s.mysql.user}'@'%'`)};`));
    } else out.push(ok(`${name}: grants`, 'the account has every privilege Backtrack needs'));
    if (s.verify.heartbeat.enabled) {
      const hb = s.verify.heartbeat.schema;
      out.push(
        canWriteHeartbeat(g.grants, hb)
          ? ok(`${name}: heartbeat`, `the account can write ${hb}.heartbeat`)
          : fail(`${name}: heartbeat`, `verify.heartbeat is enabled but the account cannot create and write ${hb}.heartbeat`, `GRANT CREATE, INSERT, DELETE, SELECT ON \`${hb}\`.* TO '${s.mysql.user}'@'%';`),
      );
    }
  } catch (err) {
    out.push(fail(`${name}: grants`, asBacktrackError(err).message));
  } finally {
    await closeQuietly(conn);
  }
  out.push(...(await checkTools(cfg, s, info)));
  return out;
}

async function checkTools(cfg: Config, s: SourceConfig, info: ServerInfo): Promise<CheckResult[]> {
  const t = toolPaths(cfg, info.flavor);
  const wanted: Array<[string, string[]]> = [
    [t.dump, ['--version']],
    [t.client, ['--version']],
    [cfg.tools.zstd, ['--version']],
  ];
  if (cfg.repository.encryption) wanted.push([cfg.tools.age, ['--version']]);
  const out: CheckResult[] = [];
  if (s.binlog.enabled) {
    // The binlog tool archives and replays: it must read this flavor's events.
    try {
      const v = await checkReplayTool(t.binlog, info.flavor, info.version.text);
      out.push(ok(`tool ${t.binlog}`, `${v}: reads this ${info.flavor === 'mysql' ? 'MySQL' : 'MariaDB'} ${info.version.major}.${info.version.minor} source's binlog (archiving and point-in-time replay use it)`));
    } catch (err) {
      const e = asBacktrackError(err);
      out.push(fail(`tool ${t.binlog}`, e.message, e.code === 'CONFIG_INVALID' ? 'set tools.binlog to a binlog tool of the source\'s flavor and version' : 'apt-get install mariadb-client (or set tools.binlog in the config)'));
    }
  }
  for (const [tool, args] of wanted) {
    try {
      const v = (await runToolText(tool, args, { label: tool })).split('\n')[0]?.trim() ?? '';
      out.push(ok(`tool ${tool}`, v));
    } catch (err) {
      out.push(fail(`tool ${tool}`, asBacktrackError(err).message, 'apt-get install mariadb-client zstd age (or set tools.* in the config)'));
    }
  }
  if (s.verify.scratch.mode === 'spawn') {
    const server = s.verify.scratch.serverBinary ?? findBinary([toolsFor(info.flavor).server]);
    out.push(server ? ok(`scratch server for ${s.name}`, `${server} (drills start it on a free port)`) : warn(`scratch server for ${s.name}`, `no ${toolsFor(info.flavor).server} found: drills in spawn mode cannot run here`, 'install mariadb-server (or mysql-server), or use verify.scratch.mode: server'));
  }
  return out;
}
