/** `backtrack daemon`: schedules, binlog archiving, drills, retention, metrics and the API. */
import { Daemon } from '../daemon/daemon.js';
import { handleSignals } from '../daemon/signals.js';
import type { Command } from './command.js';

export const daemonCommand: Command = {
  name: 'daemon',
  summary: 'run the scheduler, the binlog archivers and the HTTP server (metrics, health, API)',
  usage: 'backtrack daemon [--config FILE]',
  options: {},
  details: 'Runs until SIGTERM/SIGINT, then shuts down cleanly within shutdownTimeout (exit 0). SIGHUP is ignored: restart to apply a new config.',
  async run(ctx) {
    const daemon = new Daemon({ cfg: ctx.cfg, log: ctx.log });
    // The daemon handles its own signals (main's handlers only abort a command).
    process.removeAllListeners('SIGTERM');
    process.removeAllListeners('SIGINT');
    await new Promise<void>((resolve, reject) => {
      handleSignals(() => daemon.stop(), {
        timeoutMs: ctx.cfg.shutdownTimeout,
        log: ctx.log,
        exit: (code) => {
          if (code === 0) resolve();
          else process.exit(code);
        },
      });
      daemon.start().catch(reject);
    });
    return { json: { ok: true, stopped: true }, text: '' };
  },
};
