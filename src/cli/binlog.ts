/** `backtrack binlog`: run only the binlog archiver, in the foreground, until SIGINT/SIGTERM. */
import { BinlogArchiver } from '../binlog/archiver.js';
import { HeartbeatWriter } from '../binlog/heartbeat.js';
import { openRepository, sourceSpec } from '../runtime/context.js';
import { oneSource, type Command } from './command.js';

export const binlogCommand: Command = {
  name: 'binlog',
  summary: 'run only the binlog archiver, in the foreground',
  usage: 'backtrack binlog [--source NAME]',
  source: 'one',
  options: {
  },
  details:
    'Streams the source\'s binary log over the replication protocol and uploads new bytes every binlog.uploadInterval. With verify.heartbeat.enabled it also writes the heartbeat. SIGINT/SIGTERM uploads what is complete and exits 0. Only one archiver per source runs at a time (exit 5 otherwise).',
  async run(ctx) {
    const source = oneSource(ctx);
    const repo = await openRepository(ctx.cfg, 'write', ctx.log, ctx.signal);
    let segments = 0;
    let gaps = 0;
    let heartbeat: HeartbeatWriter | undefined;
    // The archiver takes the source's binlog lock itself and keeps it while it
    // streams: a second archiver exits 5, now or when it loses the lock.
    const archiver = new BinlogArchiver({
      cfg: ctx.cfg,
      source,
      repo,
      log: ctx.log,
      onLockHeld: 'fail',
      events: {
        onSegment: () => segments++,
        onGap: () => gaps++,
        // The heartbeat runs only while this process holds the lock.
        onStreaming: (on) => {
          if (on && source.verify.heartbeat.enabled && !heartbeat) {
            heartbeat = new HeartbeatWriter(sourceSpec(source), source, ctx.log);
            heartbeat.start().catch((err: unknown) => ctx.log.error({ err }, 'heartbeat could not start'));
          }
        },
      },
    });
    try {
      const done = archiver.start();
      const interrupted = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.race([done, interrupted]);
      await archiver.stop();
      await done;
    } finally {
      await heartbeat?.stop();
    }
    return { json: { ok: true, source: source.name, segmentsUploaded: segments, gapsRecorded: gaps }, text: `binlog archiver for ${source.name} stopped: ${segments} segment(s) uploaded, ${gaps} gap(s) recorded` };
  },
};
