/**
 * Signals for the daemon, each with its reason:
 *   SIGTERM, SIGINT  stop: no new jobs, running jobs aborted cleanly (no
 *                    manifest), the active binlog segment uploaded, locks and
 *                    scratch servers released; exit 0 within shutdownTimeout,
 *                    or exit 1 when the deadline passes (logged).
 *   a second one     exit at once (the operator means it).
 *   SIGHUP           ignored with a warning: configuration reload is not
 *                    supported; restart the daemon to apply a new config
 *                    (the default action, exiting, would take the archiver
 *                    down on a terminal hang-up).
 */
import type { Logger } from '../observability/logger.js';

/** Install the handlers; `stop` must resolve when shutdown is complete. */
export function handleSignals(stop: () => Promise<void>, o: { timeoutMs: number; log: Logger; exit?: (code: number) => void }): () => void {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onStop = (sig: NodeJS.Signals) => {
    if (stopping) {
      o.log.warn({ signal: sig }, 'second signal: exiting now');
      exit(130);
      return;
    }
    stopping = true;
    o.log.info({ signal: sig, timeoutMs: o.timeoutMs }, 'shutting down');
    const deadline = setTimeout(() => {
      o.log.error({ timeoutMs: o.timeoutMs }, 'shutdown did not finish within shutdownTimeout; exiting anyway');
      exit(1);
    }, o.timeoutMs);
    deadline.unref();
    stop().then(
      () => {
        clearTimeout(deadline);
        exit(0);
      },
      (err: unknown) => {
        o.log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  const onHup = () => o.log.warn('SIGHUP ignored: configuration reload is not supported; restart the daemon to apply a new config');
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
  };
}
