/**
 * Progress for long work: bytes, rate and ETA on one rewritten stderr line,
 * only on a TTY and never under --json. Everything else gets nothing here
 * (the logs say when work starts and ends).
 */
import { formatBytes } from './units.js';

export { formatBytes };

/** Receives the running byte count of a long job. */
export interface Progress {
  update(bytes: number): void;
  /** Set or change the expected total (for the ETA). */
  setTotal(total: number | undefined): void;
  /** What is happening now, shown after the numbers (e.g. the tables being loaded). */
  setDetail?(text: string): void;
  done(): void;
}

/** A progress sink that shows nothing. */
export const noProgress: Progress = { update() {}, setTotal() {}, setDetail() {}, done() {} };

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A one-line progress display on a TTY stream. */
export function ttyProgress(label: string, stream: NodeJS.WriteStream = process.stderr, total?: number): Progress {
  const start = Date.now();
  let last = 0;
  let bytes = 0;
  let expected = total;
  let finished = false;
  let detail = '';
  const render = (final: boolean) => {
    const secs = Math.max((Date.now() - start) / 1000, 0.001);
    const rate = bytes / secs;
    let line = `${label}: ${formatBytes(bytes)}  ${formatBytes(rate)}/s`;
    if (expected && expected > 0) {
      const pct = Math.min(100, (bytes / expected) * 100);
      line += `  ${pct.toFixed(0)}%  ETA ${final ? '0s' : formatEta((expected - bytes) / rate)}`;
    }
    if (detail && !final) line += `  ${detail}`;
    const width = stream.columns && stream.columns > 20 ? stream.columns - 1 : 200;
    stream.write(`\r\x1b[K${line.slice(0, width)}${final ? '\n' : ''}`);
  };
  return {
    update(n) {
      if (finished) return;
      bytes = n;
      const now = Date.now();
      if (now - last >= 250) {
        last = now;
        render(false);
      }
    },
    setTotal(t) {
      expected = t;
    },
    setDetail(text) {
      detail = text;
    },
    done() {
      if (finished) return;
      finished = true;
      render(true);
    },
  };
}

/** Progress for the current process: a TTY line unless --json or not a TTY. */
export function progressFor(label: string, json: boolean, total?: number): Progress {
  return !json && process.stderr.isTTY ? ttyProgress(label, process.stderr, total) : noProgress;
}
