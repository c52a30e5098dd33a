// Backtrack's benchmarks, run by hand (not in CI): each one measures Backtrack
// side by side with the plain shell pipeline it replaces, in the same run, on
// the same data, alternating, and reports ratios.
//
//   backup  backtrack backup (to s3rver) vs mariadb-dump | zstd -T0 > file and
//           mariadb-dump | gzip > file; peak RSS of the backtrack process, and
//           its flatness at rss-scale times the data
//   lag     recovery point lag under a sustained write load: commit -> bytes in
//           the repository, p50/p99
//   replay  backtrack restore (backup + binlog replay) vs zstd -dc | mariadb plus
//           mariadb-binlog | mariadb on the same segments
//   drill   backtrack verify vs a plain restore of the same backup
//   pitr    over a long binlog range (--binlog-mb, default 1100, several files):
//           what restore --dry-run downloads (to a time in the middle, and to
//           the newest transaction), and the local disk high-water mark of a
//           real point-in-time restore (its work directory, sampled); with
//           --old-bin, the same for an older build on the same repository
//   tables  the table-by-table layout on a local repository: backtrack backup at
//           parallelism 1, 2 and 4 against mariadb-dump | zstd -T0 > file, with
//           the raw mariadb-dump > /dev/null floor, peak RSS and the commit
//           lock's hold time (also while a writer is busy); backtrack restore
//           (--parallel 1, 2) against zstd -dc | mariadb into the same kind of
//           fresh scratch server; and a partial restore (--only) of a table a
//           tenth of the backup's size: bytes read and time against the full
//           restore; with --rss-scale N also backup RSS at N x the data
//   find    backtrack find for one table's DROP in --binlog-mb (default 1100) of
//           archived binlog (files of 256 MB, the DROP in the middle), with the
//           segment indexes and with --full-scan; seconds and MB/s read
//   parse   the binlog reader the archiver runs on every byte, over --parse-mb
//           (default 300) of a row-format binlog with inserts, updates and
//           deletes: boundaries only (what archiving does) and with row-level
//           detail (tables and row counts), against mariadb-binlog decoding
//           the same file to /dev/null; with --old-bin, the older build's reader
//
// Usage: scripts/bench [--size-mb 380] [--runs 3] [--rss-scale 4] [--lag-seconds 120]
//                      [--tps 200] [--binlog-mb 1100] [--old-bin PATH]
//                      [--parse-mb 300] [--only backup,lag,replay,drill,pitr,parse,tables,find]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist', p));
const { spawnServer } = await dist('scratch/spawn.js');
const { connect, closeQuietly } = await dist('mysql/connect.js');
const { dumpFlags, detectFlavor } = await dist('mysql/flavor.js');
const S3rver = (await import('s3rver')).default;
const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
const { stringify } = await import('yaml');

const { values: opt } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '380' },
    runs: { type: 'string', default: '3' },
    'rss-scale': { type: 'string', default: '4' },
    'lag-seconds': { type: 'string', default: '120' },
    tps: { type: 'string', default: '200' },
    'binlog-mb': { type: 'string', default: '1100' },
    'old-bin': { type: 'string' },
    'parse-mb': { type: 'string', default: '300' },
    only: { type: 'string', default: 'backup,lag,replay,drill' },
  },
});
const only = new Set(opt.only.split(','));
const SIZE_MB = Number(opt['size-mb']);
const RUNS = Number(opt.runs);
const BIN = path.join(root, 'bin/backtrack');
const work = mkdtempSync(path.join(tmpdir(), 'bt-bench-'));
const results = { startedAt: new Date().toISOString(), machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, params: opt };
const log = (...a) => console.error('[bench]', ...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

/** Run a command to completion and return its stdout (async: s3rver runs in this process). */
function run(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, BACKTRACK_LOG_LEVEL: 'error', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

/** Run a command, return wall seconds and the peak RSS (VmHWM, MiB) of the process itself. */
function timed(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let peak = 0;
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        /* exited */
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(poll);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
      else resolve({ secs, rssMiB: peak });
    });
  });
}

async function sql(server, text, params = []) {
  const c = await connect(server.spec);
  try {
    const [rows] = await c.query(text, params);
    return rows;
  } finally {
    await closeQuietly(c);
  }
}

/**
 * A dataset that looks like an application's: names, e-mail addresses, cities,
 * amounts, timestamps, statuses and free text (about 5x compressible, like
 * real dumps), ~143 bytes of dump text per row.
 */
async function generate(server, schema, mb) {
  const rows = Math.round((mb * 1024 * 1024) / 143);
  log(`generating ${schema}: ~${mb} MB of dump text (${rows} rows)`);
  await sql(server, `CREATE DATABASE IF NOT EXISTS ${schema}`);
  await sql(server, `CREATE TABLE IF NOT EXISTS ${schema}.orders (id INT PRIMARY KEY, customer VARCHAR(60), email VARCHAR(80), city VARCHAR(30), amount DECIMAL(12,2), status ENUM('new','paid','shipped','returned'), placed_at DATETIME(6), note VARCHAR(200)) ENGINE=InnoDB`);
  const c = await connect(server.spec);
  try {
    await c.query(`USE ${schema}`);
    for (let start = 1; start <= rows; start += 500_000) {
      const end = Math.min(rows, start + 499_999);
      await c.query(`INSERT INTO orders SELECT seq,
          CONCAT(ELT(1 + seq % 12, 'Ada', 'Grace', 'Linus', 'Ken', 'Barbara', 'Edsger', 'Donald', 'Frances', 'Dennis', 'Margaret', 'Alan', 'Radia'), ' ', ELT(1 + (seq DIV 12) % 10, 'Lovelace', 'Hopper', 'Torvalds', 'Thompson', 'Liskov', 'Dijkstra', 'Knuth', 'Allen', 'Ritchie', 'Hamilton')),
          CONCAT('customer', seq % 50000, '@example.com'),
          ELT(1 + seq % 8, 'Berlin', 'Lisbon', 'Osaka', 'Toronto', 'Nairobi', 'Lima', 'Oslo', 'Perth'),
          ROUND((seq * 7919 % 100000) / 100, 2),
          ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'returned'),
          '2026-01-01' + INTERVAL seq SECOND,
          IF(seq % 3 = 0, CONCAT('please deliver to the back door, order ', seq, ' of a recurring subscription'), CONCAT('gift wrap ', seq % 97))
        FROM seq_${start}_to_${end}`);
    }
  } finally {
    await closeQuietly(c);
  }
}

function writeConfig(name, server, pwFile, repo, extra = {}) {
  const file = path.join(work, `${name}.yaml`);
  writeFileSync(file, stringify({ repository: repo, workDir: path.join(work, `work-${name}`), sources: [{ name: 'bench', mysql: { host: '127.0.0.1', port: server.port, user: 'backtrack', passwordFile: pwFile }, ...extra }] }));
  return file;
}

// ---- set-up --------------------------------------------------------------
log(`work dir ${work}`);
const source = await spawnServer({ profile: 'source', bufferPoolSize: '1G', baseDir: work });
const pwFile = path.join(work, 'pw');
writeFileSync(pwFile, 'bench-pw\n', { mode: 0o600 });
await sql(source, "CREATE USER 'backtrack'@'127.0.0.1' IDENTIFIED BY 'bench-pw'");
await sql(source, "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'backtrack'@'127.0.0.1'");
const s3dir = path.join(work, 's3');
mkdirSync(s3dir);
const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3dir });
const s3port = (await s3.run()).port;
Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' });
await new S3Client({ endpoint: `http://127.0.0.1:${s3port}`, region: 'us-east-1', forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'bench' }));
const s3repo = { url: 's3://bench/repo', s3: { endpoint: `http://127.0.0.1:${s3port}`, forcePathStyle: true } };
const version = (await sql(source, 'SELECT VERSION() AS v'))[0].v;
const flags = dumpFlags({ flavor: 'mariadb', version: detectFlavor(version).version, gtidMode: true, hasSystemVersioned: false });
const cred = path.join(work, 'client.cnf');
writeFileSync(cred, `[client]\nuser=backtrack\npassword=bench-pw\nhost=127.0.0.1\nport=${source.port}\nprotocol=TCP\n`, { mode: 0o600 });

try {
  // ---- backup ------------------------------------------------------------
  if (only.has('backup') || only.has('drill')) await generate(source, 'bench1x', SIZE_MB);
  let backupId;
  if (only.has('backup')) {
    // One stream (format 1), as the plain pipeline it is compared with; the table layout has its own bench (tables).
    const cfg = writeConfig('s3', source, pwFile, s3repo, { backup: { databases: ['bench1x'], layout: 'stream' }, binlog: { enabled: false } });
    const dump = `mariadb-dump --defaults-extra-file=${cred} ${flags.join(' ')} --databases bench1x`;
    const runs = { backtrack: [], zstd: [], gzip: [], rss: [] };
    for (let i = 0; i < RUNS; i++) {
      const order = i % 2 === 0 ? ['backtrack', 'zstd', 'gzip'] : ['gzip', 'zstd', 'backtrack'];
      for (const what of order) {
        if (what === 'backtrack') {
          const r = await timed(BIN, ['backup', '--config', cfg, '--json'], { BACKTRACK_LOG_LEVEL: 'warn' });
          runs.backtrack.push(r.secs);
          runs.rss.push(r.rssMiB);
        } else {
          const out = path.join(work, `pipe.${what}`);
          const r = await timed('bash', ['-o', 'pipefail', '-c', `${dump} | ${what === 'zstd' ? 'zstd -T0 -3 -q' : 'gzip'} > ${out}`]);
          runs[what].push(r.secs);
          if (what === 'zstd') results.zstdBytes = statSync(out).size;
        }
        log(`backup run ${i + 1} ${what}: ${runs[what].slice(-1)[0].toFixed(2)}s`);
      }
    }
    const dumpBytes = Number((await run('sh', ['-c', `${dump} | wc -c`])).trim());
    results.backup = {
      dumpMB: dumpBytes / 1048576,
      runs,
      medianSeconds: { backtrack: median(runs.backtrack), zstd: median(runs.zstd), gzip: median(runs.gzip) },
      ratioVsZstd: median(runs.backtrack) / median(runs.zstd),
      ratioVsGzip: median(runs.backtrack) / median(runs.gzip),
      peakRssMiB1x: Math.max(...runs.rss),
    };
    log(`backup: ${JSON.stringify(results.backup.medianSeconds)} ratio vs zstd ${results.backup.ratioVsZstd.toFixed(3)}`);
    const list = JSON.parse(await run(BIN, ['list', '--config', cfg, '--json']));
    backupId = list.sources[0].backups.slice(-1)[0].id;
    results.drillConfig = cfg;
    // RSS flatness at rss-scale x the data.
    const scale = Number(opt['rss-scale']);
    if (scale > 1) {
      await generate(source, 'benchnx', SIZE_MB * scale);
      const cfgN = writeConfig('s3n', source, pwFile, { ...s3repo, url: 's3://bench/repo-n' }, { backup: { databases: ['benchnx'] }, binlog: { enabled: false } });
      const r = await timed(BIN, ['backup', '--config', cfgN], { BACKTRACK_LOG_LEVEL: 'warn' });
      results.backup.peakRssMiBNx = r.rssMiB;
      results.backup.rssScale = scale;
      results.backup.rssRatioNxTo1x = r.rssMiB / results.backup.peakRssMiB1x;
      results.backup.secondsNx = r.secs;
      await sql(source, 'DROP DATABASE benchnx');
      log(`backup at ${scale}x: ${r.secs.toFixed(1)}s, peak RSS ${r.rssMiB.toFixed(0)} MiB (1x: ${results.backup.peakRssMiB1x.toFixed(0)} MiB)`);
    }
  }

  // ---- drill -------------------------------------------------------------
  if (only.has('drill')) {
    const cfg = results.drillConfig ?? writeConfig('s3', source, pwFile, s3repo, { backup: { databases: ['bench1x'], layout: 'stream' }, binlog: { enabled: false } });
    if (!backupId) {
      await run(BIN, ['backup', '--config', cfg]);
      backupId = JSON.parse(await run(BIN, ['list', '--config', cfg, '--json'])).sources[0].backups.slice(-1)[0].id;
    }
    const obj = path.join(s3dir, 'bench', 'repo', 'bench', 'backups', backupId, 'data.sql.zst._S3rver_object');
    const runs = { drill: [], plainLoad: [], plainStart: [] };
    for (let i = 0; i < RUNS; i++) {
      const d = await timed(BIN, ['verify', '--config', cfg, '--backup', backupId], { BACKTRACK_LOG_LEVEL: 'warn' });
      runs.drill.push(d.secs);
      const t0 = Date.now();
      const scratch = await spawnServer({ profile: 'scratch', baseDir: work, bufferPoolSize: '256M' });
      runs.plainStart.push((Date.now() - t0) / 1000);
      const l = await timed('bash', ['-o', 'pipefail', '-c', `zstd -dc ${obj} | mariadb --no-defaults -h127.0.0.1 -P${scratch.port} -uroot --binary-mode`]);
      runs.plainLoad.push(l.secs);
      await scratch.stop();
      log(`drill run ${i + 1}: drill ${d.secs.toFixed(1)}s, plain start ${runs.plainStart.at(-1).toFixed(1)}s + load ${l.secs.toFixed(1)}s`);
    }
    results.drill = {
      runs,
      medianSeconds: { drill: median(runs.drill), plainLoad: median(runs.plainLoad), plainStartPlusLoad: median(runs.plainStart) + median(runs.plainLoad) },
      ratioVsPlainLoad: median(runs.drill) / median(runs.plainLoad),
      ratioVsPlainStartPlusLoad: median(runs.drill) / (median(runs.plainStart) + median(runs.plainLoad)),
    };
  }

  // ---- recovery point lag and replay ---------------------------------------
  if (only.has('lag') || only.has('replay')) {
    await sql(source, 'CREATE DATABASE IF NOT EXISTS lagdb');
    await sql(source, 'CREATE TABLE IF NOT EXISTS lagdb.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64), at DATETIME(6))');
    const fsRepo = path.join(work, 'fsrepo');
    const cfg = writeConfig('fs', source, pwFile, { url: fsRepo }, { backup: { databases: ['lagdb'] }, binlog: { uploadInterval: '5s' } });
    await run(BIN, ['backup', '--config', cfg]);
    const archiver = spawn(BIN, ['binlog', '--config', cfg], { env: { ...process.env, BACKTRACK_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    // Measure the steady state: first let the archiver catch up on the binlog
    // the dataset generation wrote (GBs), up to a marker transaction.
    await sql(source, "INSERT INTO lagdb.t (v, at) VALUES ('catch-up marker', NOW(6))");
    const marker = Number(String((await sql(source, 'SELECT @@gtid_binlog_pos AS g'))[0].g).split('-')[2]);
    // Each archived segment's sidecar: the newest transaction it holds and when it was stored.
    const seen = new Map();
    const scan = () => {
      const walk = (d) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.name.endsWith('.json') && !seen.has(p)) {
            try {
              const s = JSON.parse(readFileSync(p, 'utf8'));
              if (s.lastTransaction?.gtid) seen.set(p, { seq: Number(s.lastTransaction.gtid.split('-')[2]), at: Date.parse(s.archivedAt) });
            } catch {
              /* being written */
            }
          }
        }
      };
      if (existsSync(path.join(fsRepo, 'bench', 'binlogs'))) walk(path.join(fsRepo, 'bench', 'binlogs'));
    };
    const catchUp = Date.now();
    for (;;) {
      scan();
      if ([...seen.values()].some((x) => x.seq >= marker)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    log(`archiver caught up with the existing binlog in ${((Date.now() - catchUp) / 1000).toFixed(1)}s`);
    const tps = Number(opt.tps);
    const seconds = Number(opt['lag-seconds']);
    log(`write load: ${tps} transactions/s for ${seconds}s`);
    const commits = [];
    const poller = setInterval(scan, 100);
    const c = await connect(source.spec);
    const t0 = Date.now();
    let n = 0;
    while (Date.now() - t0 < seconds * 1000) {
      const due = t0 + (n * 1000) / tps;
      if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
      await c.query('INSERT INTO lagdb.t (v, at) VALUES (MD5(RAND()), NOW(6))');
      const committed = Date.now();
      const [[g]] = await c.query('SELECT @@last_gtid AS g');
      commits.push({ seq: Number(String(g.g).split('-')[2]), at: committed });
      n++;
    }
    await closeQuietly(c);
    const deadline = Date.now() + 30_000;
    const lastSeq = commits.at(-1).seq;
    while (Date.now() < deadline && ![...seen.values()].some((s) => s.seq >= lastSeq)) await new Promise((r) => setTimeout(r, 200));
    clearInterval(poller);
    scan();
    const archived = [...seen.values()].sort((a, b) => a.at - b.at);
    const lags = commits.map((cm) => {
      const first = archived.find((s) => s.seq >= cm.seq);
      return first ? (first.at - cm.at) / 1000 : Infinity;
    });
    results.lag = { transactions: commits.length, achievedTps: commits.length / seconds, uploadIntervalSeconds: 5, p50: pct(lags, 50), p99: pct(lags, 99), max: Math.max(...lags), target: 'p99 <= uploadInterval + 2s' };
    log(`lag: p50 ${results.lag.p50.toFixed(2)}s p99 ${results.lag.p99.toFixed(2)}s over ${commits.length} transactions`);
    archiver.kill('SIGINT');
    await new Promise((r) => archiver.on('exit', r));

    if (only.has('replay')) {
      const runs = { backtrack: [], plain: [] };
      const list = JSON.parse(await run(BIN, ['list', '--config', cfg, '--json'])).sources[0];
      const b = list.backups.at(-1);
      for (let i = 0; i < RUNS; i++) {
        for (const what of i % 2 === 0 ? ['backtrack', 'plain'] : ['plain', 'backtrack']) {
          const target = await spawnServer({ profile: 'scratch', baseDir: work, bufferPoolSize: '256M' });
          try {
            if (what === 'backtrack') {
              runs.backtrack.push((await timed(BIN, ['restore', '--config', cfg, '--target', `mysql://root@127.0.0.1:${target.port}`], { BACKTRACK_LOG_LEVEL: 'warn' })).secs);
            } else {
              const tlDir = path.join(fsRepo, 'bench', 'binlogs', readdirSync(path.join(fsRepo, 'bench', 'binlogs'))[0]);
              // Every archived file from the snapshot's on: whole files, or the active one's pieces.
              const names = [...new Set(readdirSync(tlDir).filter((f) => /\.\d+(\.zst|\.partial)$/.test(f)).map((f) => f.replace(/\.(zst|partial)$/, '')))].sort();
              const tmp = mkdtempSync(path.join(work, 'plain-'));
              const wanted = names.slice(names.indexOf(b.snapshot.file));
              const script = [
                `zstd -dc ${path.join(fsRepo, 'bench', 'backups', b.id, 'data.sql.zst')} | mariadb --no-defaults -h127.0.0.1 -P${target.port} -uroot --binary-mode`,
                ...wanted.map((n) => (existsSync(path.join(tlDir, `${n}.zst`)) ? `zstd -dq ${path.join(tlDir, `${n}.zst`)} -o ${path.join(tmp, n)}` : `cat ${path.join(tlDir, `${n}.partial`)}/*.zst | zstd -dcq > ${path.join(tmp, n)}`)),
                `cd ${tmp} && mariadb-binlog --start-position=${b.snapshot.position} ${wanted.join(' ')} | mariadb --no-defaults -h127.0.0.1 -P${target.port} -uroot --binary-mode`,
              ].join(' && ');
              runs.plain.push((await timed('bash', ['-o', 'pipefail', '-c', script])).secs);
              rmSync(tmp, { recursive: true, force: true });
            }
          } finally {
            await target.stop();
          }
          log(`replay run ${i + 1} ${what}: ${runs[what].at(-1).toFixed(2)}s`);
        }
      }
      results.replay = { runs, medianSeconds: { backtrack: median(runs.backtrack), plain: median(runs.plain) }, ratio: median(runs.backtrack) / median(runs.plain), transactions: results.lag.transactions };
    }
  }
  // ---- point-in-time restore over a long range ------------------------------
  if (only.has('pitr')) results.pitr = await pitrBench();
  // ---- the binlog reader -----------------------------------------------------
  if (only.has('parse')) results.parse = await parseBench();
  // ---- the table-by-table layout ------------------------------------------------
  if (only.has('tables')) results.tables = await tablesBench();
  // ---- find -----------------------------------------------------------------------
  if (only.has('find')) results.find = await findBench();
} finally {
  await source.stop();
  await s3.close();
}

/** find for one table's DROP in a long archived binlog, with and without the segment indexes. */
async function findBench() {
  const MB = Number(opt['binlog-mb']);
  await sql(source, 'CREATE DATABASE IF NOT EXISTS finddb');
  await sql(source, 'CREATE TABLE IF NOT EXISTS finddb.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64), at DATETIME(6))');
  await sql(source, 'CREATE TABLE IF NOT EXISTS finddb.victim (id INT PRIMARY KEY)');
  await sql(source, 'SET GLOBAL max_binlog_size = 268435456');
  const cfg = writeConfig('find', source, pwFile, { url: path.join(work, 'findrepo') }, { backup: { databases: ['finddb'] }, binlog: { uploadInterval: '2s' } });
  await run(BIN, ['backup', '--config', cfg]);
  const archiver = spawn(BIN, ['binlog', '--config', cfg], { env: { ...process.env, BACKTRACK_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  const binlogBytes = async () => (await sql(source, 'SHOW BINARY LOGS')).reduce((a, r) => a + Number(r.File_size), 0);
  const start = await binlogBytes();
  log(`find: writing ${MB} MB of binlog, the DROP in the middle`);
  const c = await connect(source.spec);
  let dropped = false;
  try {
    await c.query('USE finddb');
    while ((await binlogBytes()) - start < MB * 1024 * 1024) {
      await c.query('INSERT INTO finddb.t (v, at) SELECT MD5(RAND()), NOW(6) FROM seq_1_to_20000');
      if (!dropped && (await binlogBytes()) - start >= (MB * 1024 * 1024) / 2) {
        await c.query('DROP TABLE finddb.victim');
        dropped = true;
      }
    }
    await c.query("INSERT INTO finddb.t (v, at) VALUES ('last', NOW(6))");
  } finally {
    await closeQuietly(c);
  }
  const [{ g: lastGtid }] = await sql(source, 'SELECT @@gtid_binlog_pos AS g');
  for (;;) {
    const found = JSON.parse(await run(BIN, ['find', '--config', cfg, '--gtid', lastGtid, '--json']).catch(() => '{}'));
    if (found.matches?.length) break;
    await new Promise((r) => setTimeout(r, 3000));
  }
  // The closed files are whole (one segment each) once consolidated: wait for that.
  await new Promise((r) => setTimeout(r, 5000));
  archiver.kill('SIGINT');
  await new Promise((r) => archiver.on('exit', r));
  const runs = { index: [], full: [] };
  let last;
  for (let i = 0; i < RUNS; i++) {
    for (const what of i % 2 ? ['full', 'index'] : ['index', 'full']) {
      const t0 = process.hrtime.bigint();
      const out = JSON.parse(await run(BIN, ['find', '--config', cfg, '--table', 'finddb.victim', '--statement', 'drop', '--json', ...(what === 'full' ? ['--full-scan'] : [])]));
      runs[what].push({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, readMB: out.scanned.bytes / 1048576, skippedMB: out.scanned.skippedByIndex.bytes / 1048576, matches: out.matches.length });
      last = out;
      log(`find run ${i + 1} ${what}: ${runs[what].at(-1).seconds.toFixed(2)}s, read ${runs[what].at(-1).readMB.toFixed(0)} MB`);
    }
  }
  const med = (k) => median(runs[k].map((x) => x.seconds));
  return {
    binlogMiB: ((await binlogBytes()) - start) / 1048576,
    files: (await sql(source, 'SHOW BINARY LOGS')).length,
    runs,
    medianSeconds: { index: med('index'), full: med('full') },
    fullScanMBps: runs.full[0].readMB / med('full'),
    found: last?.matches?.length,
  };
}

/** Backup and restore of the table-by-table layout against the plain pipelines, alternating. */
async function tablesBench() {
  const schema = 'benchtables';
  await generate(source, schema, SIZE_MB);
  // A table a tenth of the backup's size, for the partial restore.
  const orders = Number((await sql(source, `SELECT COUNT(*) AS n FROM ${schema}.orders`))[0].n);
  await sql(source, `CREATE TABLE ${schema}.refunds LIKE ${schema}.orders`);
  await sql(source, `INSERT INTO ${schema}.refunds SELECT * FROM ${schema}.orders WHERE id <= ${Math.round(orders / 9)}`);
  const repoDir = path.join(work, 'repo-tables');
  const cfgFor = (p) => writeConfig(`tables-p${p}`, source, pwFile, { url: repoDir }, { backup: { databases: [schema], parallelism: p }, binlog: { enabled: false } });
  const dump = `mariadb-dump --defaults-extra-file=${cred} ${flags.join(' ')} --databases ${schema}`;
  const pipeFile = path.join(work, 'tables.sql.zst');
  const runs = { p1: [], p2: [], p4: [], zstd: [], raw: [], rss: { p1: [], p2: [], p4: [] }, lockHeld: [] };
  const manifestOf = (id) => JSON.parse(readFileSync(path.join(repoDir, 'bench', 'backups', id, 'manifest.json'), 'utf8'));
  let lastId;
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? ['p1', 'p2', 'p4', 'zstd', 'raw'] : ['raw', 'zstd', 'p4', 'p2', 'p1'];
    for (const what of order) {
      if (what.startsWith('p')) {
        const r = await timed(BIN, ['backup', '--config', cfgFor(Number(what.slice(1))), '--json'], { BACKTRACK_LOG_LEVEL: 'warn' });
        runs[what].push(r.secs);
        runs.rss[what].push(r.rssMiB);
        lastId = JSON.parse(await run(BIN, ['list', '--config', cfgFor(2), '--json'])).sources[0].backups.slice(-1)[0].id;
        runs.lockHeld.push(manifestOf(lastId).parallel?.lock?.heldSeconds ?? null);
      } else if (what === 'zstd') runs.zstd.push((await timed('bash', ['-o', 'pipefail', '-c', `${dump} | zstd -T0 -3 -q > ${pipeFile}`])).secs);
      else runs.raw.push((await timed('bash', ['-o', 'pipefail', '-c', `${dump} > /dev/null`])).secs);
      log(`tables backup run ${i + 1} ${what}: ${runs[what].at(-1).toFixed(2)}s`);
    }
  }
  // The lock while a writer is busy.
  const busy = [];
  const writer = (async () => {
    const c = await connect(source.spec);
    try {
      for (let k = 0; busy.length < RUNS; k++) await c.query(`UPDATE ${schema}.orders SET amount = amount + 0.01 WHERE id = ?`, [1 + (k % 1000)]);
    } finally {
      await closeQuietly(c);
    }
  })();
  for (let i = 0; i < RUNS; i++) {
    await run(BIN, ['backup', '--config', cfgFor(2)]);
    const id = JSON.parse(await run(BIN, ['list', '--config', cfgFor(2), '--json'])).sources[0].backups.slice(-1)[0].id;
    busy.push(manifestOf(id).parallel?.lock?.heldSeconds ?? null);
  }
  await writer;
  lastId = JSON.parse(await run(BIN, ['list', '--config', cfgFor(2), '--json'])).sources[0].backups.slice(-1)[0].id;
  const m = manifestOf(lastId);
  // Restores into fresh scratch servers (the same kind for both: binlog off).
  const restore = { p1: [], p2: [], plain: [], partial: [] };
  let partialBytes;
  const fullBytes = m.objects.reduce((a, o) => a + o.size, 0);
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? ['p2', 'plain', 'p1', 'partial'] : ['partial', 'p1', 'plain', 'p2'];
    for (const what of order) {
      const target = await spawnServer({ profile: 'scratch', baseDir: work, bufferPoolSize: '1G' });
      try {
        const dsn = `mysql://root@127.0.0.1:${target.port}`;
        const t0 = process.hrtime.bigint();
        if (what === 'plain') await run('bash', ['-o', 'pipefail', '-c', `zstd -dc ${pipeFile} | mariadb --no-defaults -h127.0.0.1 -P${target.port} -uroot --binary-mode`]);
        else {
          const args = ['restore', '--config', cfgFor(2), '--target', dsn, '--backup', lastId, '--json', '--parallel', what === 'p1' ? '1' : '2'];
          if (what === 'partial') args.push('--only', `${schema}.refunds`);
          const out = JSON.parse(await run(BIN, args));
          if (what === 'partial') partialBytes = out.bytesRead;
        }
        restore[what].push(Number(process.hrtime.bigint() - t0) / 1e9);
      } finally {
        await target.stop();
      }
      log(`tables restore run ${i + 1} ${what}: ${restore[what].at(-1).toFixed(2)}s`);
    }
  }
  const med = (k) => median(runs[k]);
  const out = {
    dumpMB: Number((await run('sh', ['-c', `${dump} | wc -c`])).trim()) / 1048576,
    sessions: m.parallel?.sessions,
    objects: m.objects.length,
    backup: {
      runs,
      medianSeconds: { p1: med('p1'), p2: med('p2'), p4: med('p4'), zstd: med('zstd'), raw: med('raw') },
      ratioVsZstd: { p1: med('p1') / med('zstd'), p2: med('p2') / med('zstd'), p4: med('p4') / med('zstd') },
      ratioVsRaw: { p1: med('p1') / med('raw'), p2: med('p2') / med('raw'), p4: med('p4') / med('raw') },
      peakRssMiB: { p1: Math.max(...runs.rss.p1), p2: Math.max(...runs.rss.p2), p4: Math.max(...runs.rss.p4) },
      lockHeldSecondsMax: Math.max(...runs.lockHeld.filter((x) => x !== null)),
      lockHeldSecondsMaxBusyWriter: Math.max(...busy.filter((x) => x !== null)),
    },
    restore: {
      runs: restore,
      medianSeconds: { p1: median(restore.p1), p2: median(restore.p2), plain: median(restore.plain), partial: median(restore.partial) },
      ratioVsPlain: { p1: median(restore.p1) / median(restore.plain), p2: median(restore.p2) / median(restore.plain) },
      partial: { bytesRead: partialBytes, backupBytes: fullBytes, ratioOfTime: median(restore.partial) / median(restore.p2) },
    },
  };
  const scale = Number(opt['rss-scale']);
  if (scale > 1) {
    await generate(source, 'benchtablesnx', SIZE_MB * scale);
    const cfgN = writeConfig('tables-nx', source, pwFile, { url: path.join(work, 'repo-tables-nx') }, { backup: { databases: ['benchtablesnx'], parallelism: 2 }, binlog: { enabled: false } });
    const r = await timed(BIN, ['backup', '--config', cfgN], { BACKTRACK_LOG_LEVEL: 'warn' });
    out.backup.rssAtScale = { scale, peakRssMiB: r.rssMiB, ratioTo1x: r.rssMiB / out.backup.peakRssMiB.p2, seconds: r.secs };
    await sql(source, 'DROP DATABASE benchtablesnx');
  }
  log(`tables: ${JSON.stringify({ backup: out.backup.ratioVsZstd, restore: out.restore.ratioVsPlain, partial: out.restore.partial, lock: out.backup.lockHeldSecondsMax })}`);
  return out;
}

/** The binlog reader's speed against mariadb-binlog decoding the same file, alternating runs. */
async function parseBench() {
  const MB = Number(opt['parse-mb']);
  await sql(source, 'CREATE DATABASE IF NOT EXISTS parsedb');
  await sql(source, 'CREATE TABLE IF NOT EXISTS parsedb.t (id BIGINT PRIMARY KEY, v VARCHAR(64), n INT, at DATETIME(6), note TEXT)');
  await sql(source, 'SET GLOBAL max_binlog_size = 1073741824');
  await sql(source, 'FLUSH BINARY LOGS');
  const [{ File: file }] = await sql(source, 'SHOW MASTER STATUS');
  const size = async () => (await sql(source, 'SHOW MASTER STATUS'))[0].Position;
  log(`writing ${MB} MB of binlog into ${file}`);
  const c = await connect(source.spec);
  let next = 1;
  try {
    await c.query('USE parsedb');
    while ((await size()) < MB * 1024 * 1024) {
      // Small transactions (1-20 rows) of inserts, then updates and deletes of some of them.
      for (let i = 0; i < 200; i++) {
        const n = 1 + (i % 20);
        await c.query(`INSERT INTO parsedb.t SELECT ${next} + seq, MD5(seq), seq, NOW(6), REPEAT('x', seq % 200) FROM seq_0_to_${n - 1}`);
        next += n;
      }
      await c.query(`UPDATE parsedb.t SET n = n + 1 WHERE id > ${next - 2000}`);
      await c.query(`DELETE FROM parsedb.t WHERE id > ${next - 200} AND id % 3 = 0`);
    }
  } finally {
    await closeQuietly(c);
  }
  await sql(source, 'FLUSH BINARY LOGS');
  const binlog = path.join(source.datadir, file);
  const bytes = statSync(binlog).size;
  const transactions = Number((await sql(source, 'SELECT @@gtid_binlog_pos AS g'))[0].g.split('-')[2]);
  log(`${(bytes / 1048576).toFixed(0)} MiB of binlog; timing the reader against mariadb-binlog`);
  const reader = (distDir, detail) => [
    '--input-type=module',
    '-e',
    `const m = await import(${JSON.stringify(path.join(distDir, 'mysql/binlog/parser.js'))}).catch(() => import(${JSON.stringify(path.join(distDir, 'mysql/binlog-events.js'))}));
     const { createReadStream } = await import('node:fs');
     let n = 0;
     const p = m.BinlogFormatError ? new m.BinlogParser('mariadb', { detail: ${detail}, onTransaction: () => n++ }) : new m.BinlogParser('mariadb', { onTransaction: () => n++ });
     for await (const chunk of createReadStream(${JSON.stringify(binlog)}, { highWaterMark: 1 << 20 })) p.push(chunk);
     if (n === 0) process.exit(3);`,
  ];
  const variants = {
    plain: ['mariadb-binlog', ['--no-defaults', binlog]],
    boundaries: [process.execPath, reader(path.join(root, 'dist'), false)],
    detail: [process.execPath, reader(path.join(root, 'dist'), true)],
  };
  if (opt['old-bin']) variants.old = [process.execPath, reader(path.join(path.dirname(opt['old-bin']), '..', 'dist'), false)];
  const runs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const rss = Object.fromEntries(Object.keys(variants).map((k) => [k, 0]));
  for (let i = 0; i < RUNS; i++) {
    for (const [k, [cmd, args]] of Object.entries(variants)) {
      const r = await timed(cmd, args);
      runs[k].push(r.secs);
      rss[k] = Math.max(rss[k], r.rssMiB);
      log(`parse run ${i + 1} ${k}: ${r.secs.toFixed(2)}s, ${r.rssMiB.toFixed(0)} MiB`);
    }
  }
  const med = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
  return {
    binlogMiB: bytes / 1048576,
    transactions,
    runs,
    peakRssMiB: rss,
    medianSeconds: med,
    mibPerSecond: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, bytes / 1048576 / v])),
    ratioToPlain: Object.fromEntries(Object.entries(med).filter(([k]) => k !== 'plain').map(([k, v]) => [k, v / med.plain])),
  };
}

/** The dry-run download and the disk high-water mark of a restore over >= --binlog-mb of binlog. */
async function pitrBench() {
  const MB = Number(opt['binlog-mb']);
  await sql(source, 'CREATE DATABASE IF NOT EXISTS pitrdb');
  await sql(source, 'CREATE TABLE IF NOT EXISTS pitrdb.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64), at DATETIME(6))');
  await sql(source, 'SET GLOBAL max_binlog_size = 268435456');
  const fsRepo = path.join(work, 'pitrrepo');
  const cfg = writeConfig('pitr', source, pwFile, { url: fsRepo }, { backup: { databases: ['pitrdb'] }, binlog: { uploadInterval: '2s' } });
  await run(BIN, ['backup', '--config', cfg]);
  const archiver = spawn(BIN, ['binlog', '--config', cfg], { env: { ...process.env, BACKTRACK_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  const binlogBytes = async () => (await sql(source, 'SHOW BINARY LOGS')).reduce((a, r) => a + Number(r.File_size), 0);
  const start = await binlogBytes();
  log(`writing ${MB} MB of binlog (files of 256 MB)`);
  let middle;
  const c = await connect(source.spec);
  try {
    await c.query('USE pitrdb');
    let n = 0;
    while ((await binlogBytes()) - start < MB * 1024 * 1024) {
      await c.query('INSERT INTO pitrdb.t (v, at) SELECT MD5(RAND()), NOW(6) FROM seq_1_to_20000');
      if (!middle && (await binlogBytes()) - start >= (MB * 1024 * 1024) / 2) {
        await new Promise((r) => setTimeout(r, 1100));
        middle = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        await new Promise((r) => setTimeout(r, 1100));
      }
      n++;
    }
    log(`wrote ${n} transactions; the point in the middle is ${middle}`);
    await c.query("INSERT INTO pitrdb.t (v, at) VALUES ('last', NOW(6))");
  } finally {
    await closeQuietly(c);
  }
  const [{ g: lastGtid }] = await sql(source, 'SELECT @@gtid_binlog_pos AS g');
  // Wait until the archive holds the last transaction.
  for (;;) {
    const dry = JSON.parse(await run(BIN, ['restore', '--config', cfg, '--target', `mysql://root@127.0.0.1:${source.port}`, '--force-overwrite-source', '--force', '--dry-run', '--json']).catch(() => '{}'));
    if (dry.plan?.pitr?.lastIncluded?.gtid === lastGtid) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  archiver.kill('SIGINT');
  await new Promise((r) => archiver.on('exit', r));
  const files = (await sql(source, 'SHOW BINARY LOGS')).length;
  const out = { binlogMiB: ((await binlogBytes()) - start) / 1048576, files, middle, new: await measure(BIN, cfg, middle) };
  if (opt['old-bin']) out.old = await measure(opt['old-bin'], cfg, middle);
  return out;
}

/** One build's dry-run downloads (to the middle, to the newest) and a real restore's disk high-water mark. */
async function measure(bin, cfg, middle) {
  const workDir = path.join(work, 'work-pitr');
  const target = await spawnServer({ profile: 'scratch', baseDir: work, bufferPoolSize: '256M' });
  try {
    const dsn = `mysql://root@127.0.0.1:${target.port}`;
    const dryRun = async (args) => {
      const hw = await withDiskSampler(workDir, () => run(bin, ['restore', '--config', cfg, '--target', dsn, '--dry-run', '--json', ...args]));
      const plan = JSON.parse(hw.result).plan.pitr;
      return { fetchedBytes: plan.fetchedBytes ?? null, replayBytes: plan.replayBytes, workDirHighWaterMiB: hw.peak / 1048576 };
    };
    const toMiddle = await dryRun(['--to', middle]);
    const latest = await dryRun([]);
    const t0 = Date.now();
    const real = await withDiskSampler(workDir, () => run(bin, ['restore', '--config', cfg, '--target', dsn]));
    return { dryRunToMiddle: toMiddle, dryRunLatest: latest, restore: { seconds: (Date.now() - t0) / 1000, workDirHighWaterMiB: real.peak / 1048576 } };
  } finally {
    await target.stop();
  }
}

/** Run `fn` while sampling the bytes under `dir` (every 50 ms); returns its result and the peak. */
async function withDiskSampler(dir, fn) {
  let peak = 0;
  const size = (d) => {
    let n = 0;
    for (const e of existsSync(d) ? readdirSync(d, { withFileTypes: true }) : []) {
      const p = path.join(d, e.name);
      try {
        n += e.isDirectory() ? size(p) : statSync(p).size;
      } catch {
        /* removed meanwhile */
      }
    }
    return n;
  };
  // The archiver's spool is not the restore's: only restore-* directories count.
  const sample = () => (peak = Math.max(peak, existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('restore-')).reduce((a, n) => a + size(path.join(dir, n)), 0) : 0));
  const timer = setInterval(sample, 50);
  try {
    const result = await fn();
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}

results.finishedAt = new Date().toISOString();
const outDir = path.join(root, 'bench-results');
mkdirSync(outDir, { recursive: true });
const out = path.join(outDir, `${results.startedAt.replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify(results, null, 2));
console.log(JSON.stringify(results, null, 2));
log(`results written to ${out}`);
rmSync(work, { recursive: true, force: true });
