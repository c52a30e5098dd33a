/**
 * A throwaway MariaDB/MySQL server: a temp datadir, a free loopback port, a
 * private socket, and nothing left behind. It is stopped and its datadir
 * removed when `stop()` is called, when this process exits, and, through a
 * detached watchdog, even when this process is killed with SIGKILL.
 *
 * Two profiles: `scratch` (drills: no binlog, relaxed flushing, event
 * scheduler off so restored events cannot change data under the checks) and
 * `source` (the sandbox and tests: binlog on, row format, a server id).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScratchUnavailableError } from '../errors.js';
import { closeQuietly, connect, type ConnectionSpec } from '../mysql/connect.js';
import { runToolText } from '../pipeline/spawn.js';
import { childCommand } from '../pipeline/child.js';

/** How to start the server. */
export interface SpawnOptions {
  profile: 'scratch' | 'source';
  /** Parent directory for the datadir (default the OS temp dir). */
  baseDir?: string | undefined;
  serverBinary?: string | undefined;
  installDbBinary?: string | undefined;
  startTimeoutMs?: number;
  bufferPoolSize?: string;
  /** source profile: server_id (default 1). */
  serverId?: number;
  /** Extra mysqld options, e.g. ['--gtid-domain-id=1']. */
  extraArgs?: string[];
  /** Use this port instead of a free one (restarting a server on its old port). */
  port?: number;
  /** Reuse an existing datadir (restart); it is not initialised again. */
  datadir?: string;
  signal?: AbortSignal | undefined;
}

/** A running throwaway server. */
export interface SpawnedServer {
  readonly port: number;
  readonly socket: string;
  /** The server's data directory (<root>/data). */
  readonly datadir: string;
  readonly pid: number;
  /** root over TCP on loopback, no password. */
  readonly spec: ConnectionSpec;
  /** Stop the server (SIGTERM, then SIGKILL) and, unless keepData, remove the datadir. Idempotent. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** Kill -9 the server (tests of crash recovery); the datadir stays. */
  crash(): Promise<void>;
}

const live = new Set<{ child: ChildProcess; datadir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const s of live) {
      try {
        s.child.kill('SIGKILL');
      } catch {
        // already gone
      }
      rmSync(s.datadir, { recursive: true, force: true });
    }
  });
}

/** Find a program on PATH or in the sbin directories. */
export function findBinary(names: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/mysql/bin'];
  for (const n of names) {
    if (n.includes('/')) return existsSync(n) ? n : undefined;
    for (const d of dirs) if (d && existsSync(path.join(d, n))) return path.join(d, n);
  }
  return undefined;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const WATCHDOG = fileURLToPath(new URL('./watchdog.sh', import.meta.url));

/** Start a throwaway server. */
export async function spawnServer(o: SpawnOptions): Promise<SpawnedServer> {
  const server = o.serverBinary ?? findBinary(['mariadbd', 'mysqld']);
  if (!server) throw new ScratchUnavailableError('no mariadbd or mysqld found on PATH or in /usr/sbin; install mariadb-server (or set verify.scratch.serverBinary)');
  const isMaria = path.basename(server).startsWith('mariadb');
  const installDb = o.installDbBinary ?? findBinary(isMaria ? ['mariadb-install-db', 'mysql_install_db'] : []);
  const rootArgs = process.getuid?.() === 0 ? ['--user=root'] : [];
  // <root>/data is the datadir; <root>/tmp the server's own tmpdir (concurrent
  // bootstraps sharing /tmp collide on temporary table names).
  const fresh = !o.datadir;
  const root = o.datadir ? path.dirname(o.datadir) : await mkdtemp(path.join(o.baseDir ?? tmpdir(), 'backtrack-scratch-'));
  const datadir = o.datadir ?? path.join(root, 'data');
  const tmp = path.join(root, 'tmp');
  await mkdir(tmp, { recursive: true });
  const socket = path.join(root, 'mysqld.sock');
  // From here on, a kill -9 of this process must not leave the datadir or a server behind.
  startWatchdog(root);
  try {
    if (fresh) await initDatadir(server, installDb, datadir, [...rootArgs, `--tmpdir=${tmp}`], isMaria, o.signal);
    const port = o.port ?? (await freePort());
    const args = [
      '--no-defaults',
      ...rootArgs,
      `--datadir=${datadir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${socket}`,
      `--pid-file=${path.join(root, 'mysqld.pid')}`,
      `--log-error=${path.join(root, 'error.log')}`,
      `--tmpdir=${tmp}`,
      '--skip-name-resolve',
      '--max-connections=200',
      `--innodb-buffer-pool-size=${o.bufferPoolSize ?? '256M'}`,
      ...profileArgs(o, isMaria),
      ...(o.extraArgs ?? []),
    ];
    // Started to die with us (setpriv --pdeathsig); the watchdog then removes the datadir.
    const cmd = childCommand(server, args) ?? { file: server, args };
    const child = spawn(cmd.file, cmd.args, { stdio: 'ignore' });
    const entry = { child, datadir: root };
    live.add(entry);
    installExitHook();
    const spec: ConnectionSpec = { host: '127.0.0.1', port, user: 'root', password: '', connectTimeoutMs: 5000, label: 'scratch server' };
    await waitReady(child, spec, root, o.startTimeoutMs ?? 120_000, o.signal);
    let stopped = false;
    const stopChild = async (sig: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill(sig);
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      live.delete(entry);
    };
    return {
      port,
      socket,
      datadir,
      pid: child.pid ?? 0,
      spec,
      async stop(opts = {}) {
        if (!stopped) await stopChild('SIGTERM');
        stopped = true;
        if (!opts.keepData) await rm(root, { recursive: true, force: true });
      },
      async crash() {
        await stopChild('SIGKILL');
        stopped = true;
      },
    };
  } catch (err) {
    if (fresh) await rm(root, { recursive: true, force: true });
    throw err;
  }
}

function profileArgs(o: SpawnOptions, isMaria: boolean): string[] {
  if (o.profile === 'source') {
    return ['--log-bin=mysql-bin', `--server-id=${o.serverId ?? 1}`, '--binlog-format=ROW', ...(isMaria ? [] : ['--gtid-mode=ON', '--enforce-gtid-consistency=ON'])];
  }
  return [
    isMaria ? '--skip-log-bin' : '--disable-log-bin',
    '--innodb-flush-log-at-trx-commit=0',
    '--innodb-doublewrite=0',
    '--sync-binlog=0',
    '--event-scheduler=OFF',
    '--innodb-log-file-size=256M',
  ];
}

async function initDatadir(server: string, installDb: string | undefined, datadir: string, rootArgs: string[], isMaria: boolean, signal?: AbortSignal): Promise<void> {
  try {
    if (isMaria) {
      if (!installDb) throw new ScratchUnavailableError('mariadb-install-db not found; install mariadb-server');
      await runToolText(installDb, ['--no-defaults', ...rootArgs, `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db'], { label: 'mariadb-install-db', signal });
    } else {
      await runToolText(server, ['--no-defaults', ...rootArgs, `--datadir=${datadir}`, '--initialize-insecure'], { label: 'mysqld --initialize-insecure', signal });
    }
  } catch (err) {
    if (err instanceof ScratchUnavailableError) throw err;
    throw new ScratchUnavailableError(`could not initialise a scratch datadir in ${datadir}: ${(err as Error).message}`, err);
  }
}

async function waitReady(child: ChildProcess, spec: ConnectionSpec, datadir: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (signal?.aborted) {
      child.kill('SIGKILL');
      throw new ScratchUnavailableError('scratch server start was interrupted');
    }
    if (exited) throw new ScratchUnavailableError(`the scratch server exited during start-up: ${await logTail(datadir)}`);
    try {
      const conn = await connect(spec);
      await closeQuietly(conn);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  child.kill('SIGKILL');
  throw new ScratchUnavailableError(`the scratch server did not accept connections within ${Math.round(timeoutMs / 1000)}s: ${await logTail(datadir)}`);
}

async function logTail(datadir: string): Promise<string> {
  try {
    const text = await readFile(path.join(datadir, 'error.log'), 'utf8');
    return text.split('\n').filter((l) => /ERROR|\[ERROR\]/.test(l)).slice(-3).join(' | ') || text.split('\n').slice(-3).join(' | ');
  } catch {
    return '(no error log)';
  }
}

function startWatchdog(datadir: string): void {
  if (!existsSync(WATCHDOG)) return;
  const w = spawn('sh', [WATCHDOG, String(process.pid), datadir], { detached: true, stdio: 'ignore' });
  w.unref();
}
