/** `backtrack binlog`: run only the binlog archiver, in the foreground, until SIGINT/SIGTERM. */
import { selectSource } from '../config/load.js';
import { BinlogArchiver } from '../binlog/archiver.js';
import { HeartbeatWriter } from '../binlog/heartbeat.js';
import { acquireLock } from '../mysql/lock.js';
import { openRepository, sourceSpec } from '../runtime/context.js';
import { str, type Command } from './command.js';

export const binlogCommand: Command = {
  name: 'binlog',
  summary: 'run only the binlog archiver, in the foreground',
  usage: 'backtrack binlog [--source NAME]',
  options: {
    source: { type: 'string', arg: 'NAME', description: 'the source whose binlog to archive (default: the only one)' },
  },
  details:
    'Streams the source\'s binary log over the replication protocol and uploads new bytes every binlog.uploadInterval. With verify.heartbeat.enabled it also writes the heartbeat. SIGINT/SIGTERM uploads what is complete and exits 0. Only one archiver per source runs at a time (exit 5 otherwise).',
  async run(ctx) {
    const source = selectSource(ctx.cfg, str(ctx, 'source'));
    const repo = await openRepository(ctx.cfg, 'write', ctx.log);
    const lock = await acquireLock(sourceSpec(source), source.name, 'binlog');
    let segments = 0;
    let gaps = 0;
    const archiver = new BinlogArchiver({ cfg: ctx.cfg, source, repo, log: ctx.log, events: { onSegment: () => segments++, onGap: () => gaps++ } });
    const heartbeat = source.verify.heartbeat.enabled ? new HeartbeatWriter(sourceSpec(source), source, ctx.log) : undefined;
    try {
      await heartbeat?.start();
      const done = archiver.start();
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      await archiver.stop();
      await done;
    } finally {
      await heartbeat?.stop();
      await lock.release();
    }
    return { json: { ok: true, source: source.name, segmentsUploaded: segments, gapsRecorded: gaps }, text: `binlog archiver for ${source.name} stopped: ${segments} segment(s) uploaded, ${gaps} gap(s) recorded` };
  },
};
