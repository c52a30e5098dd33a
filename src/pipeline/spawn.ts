/**
 * External tools as stream stages. A ToolProcess exposes the child's stdin
 * and a stdout that only *ends* once the child has exited with status 0: if
 * the tool fails, its stdout errors instead, so a half-written dump can never
 * look like a complete one to the stages downstream (the upload, the hash).
 * stderr is kept as a bounded tail for error messages.
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { InterruptedError, ToolError } from '../errors.js';
import { childCommand } from './child.js';

/** How to run a tool. */
export interface ToolOptions {
  signal?: AbortSignal | undefined;
  /** Extra environment (merged into the parent's). */
  env?: Record<string, string>;
  /** stdin: a pipe we write to (default), or ignore. */
  stdin?: 'pipe' | 'ignore';
  /** Name for messages; default the command. */
  label?: string;
  /** A hint appended to the "not installed" error. */
  installHint?: string;
  /** Exit codes to treat as success besides 0. */
  okExitCodes?: number[];
  /** Called with each stderr line (for progress or logging). */
  onStderrLine?: (line: string) => void;
  /** File descriptors the child inherits as its fds 3, 4, ... (client credentials). */
  fds?: number[];
}

/** A running tool. */
export interface ToolProcess {
  readonly stdin: Writable;
  /** Ends only after a successful exit; errors with ToolError otherwise. */
  readonly stdout: Readable;
  /** Settles when the tool exits: resolves on success, rejects with ToolError. */
  readonly done: Promise<void>;
  /** The last few KiB of stderr. */
  stderrTail(): string;
  kill(signal?: NodeJS.Signals): void;
}

const TAIL_BYTES = 8192;

/** Start a tool. */
export function runTool(command: string, args: string[], opts: ToolOptions = {}): ToolProcess {
  const label = opts.label ?? command;
  let tail = '';
  let partialLine = '';
  // Started so that it dies with us (setpriv --pdeathsig); a missing tool
  // is left to fail with ENOENT, reported below as not installed.
  const cmd = childCommand(command, args) ?? { file: command, args };
  const child: ResultPromise = execa(cmd.file, cmd.args, {
    // execa's types list only fds 3..9 as inheritable numbers; any open fd works at run time.
    stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe', ...((opts.fds ?? []) as Array<3>)],
    buffer: false,
    reject: false,
    cleanup: true,
    env: opts.env,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    forceKillAfterDelay: 5000,
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    tail = (tail + s).slice(-TAIL_BYTES);
    if (opts.onStderrLine) {
      const lines = (partialLine + s).split('\n');
      partialLine = lines.pop() ?? '';
      for (const l of lines) if (l) opts.onStderrLine(l);
    }
  });
  const ok = new Set([0, ...(opts.okExitCodes ?? [])]);
  const done = child.then((result) => {
    if (opts.signal?.aborted) throw new InterruptedError(`${label} was stopped: interrupted`, opts.signal.reason);
    const r = result as { exitCode?: number; signal?: string; failed: boolean; code?: string; originalMessage?: string; cause?: unknown };
    if (r.code === 'ENOENT' || /ENOENT/.test(r.originalMessage ?? '')) throw notInstalled(label, command, opts.installHint, r.cause);
    if (r.exitCode !== undefined && ok.has(r.exitCode) && !r.signal) return;
    throw exitError(label, command, r.exitCode, r.signal, tail, r.cause);
  });
  // Callers observe `done` through stdout; never leave it unhandled.
  done.catch(() => undefined);

  const stdout = new PassThrough({ highWaterMark: 1024 * 1024 });
  // The failure is reported through `done` too; a consumer that only drains
  // stdout must not crash the process with an unhandled 'error' event.
  stdout.on('error', () => undefined);
  const src = child.stdout as Readable;
  src.pipe(stdout, { end: false });
  src.once('end', () => {
    done.then(
      () => stdout.end(),
      (err: unknown) => stdout.destroy(err as Error),
    );
  });
  src.once('error', (err) => stdout.destroy(err));
  // Destroying our stdout (a downstream failure) must stop the tool.
  stdout.once('close', () => {
    if (!src.readableEnded) child.kill('SIGTERM');
  });
  const stdin = (child.stdin ?? new PassThrough()) as Writable;
  // EPIPE on stdin when the tool dies early is reported through `done`.
  stdin.on('error', () => undefined);

  return {
    stdin,
    stdout,
    done,
    stderrTail: () => tail,
    kill: (signal: NodeJS.Signals = 'SIGTERM') => void child.kill(signal),
  };
}

/** A tool that is not there. */
export function notInstalled(label: string, command: string, installHint?: string, cause?: unknown): ToolError {
  return new ToolError(`${label} is not installed or not on PATH (${command})${installHint ? `; ${installHint}` : ''}`, cause, { tool: command });
}

/** A tool that exited badly, with the last lines of its stderr. */
export function exitError(label: string, command: string, code: number | null | undefined, signal: string | null | undefined, stderrTail: string, cause?: unknown): ToolError {
  const how = signal ? `was killed by ${signal}` : `exited with status ${code ?? '?'}`;
  const msg = lastLines(stderrTail);
  return new ToolError(`${label} ${how}${msg ? `: ${msg}` : ''}`, cause, { tool: command, exitCode: code, stderr: msg });
}

/** The last meaningful stderr lines, for an error message. */
function lastLines(text: string, n = 3): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(' | ');
}

/** Run a tool to completion and return its stdout as text (small outputs only). */
export async function runToolText(command: string, args: string[], opts: ToolOptions = {}): Promise<string> {
  const p = runTool(command, args, { ...opts, stdin: 'ignore' });
  const chunks: Buffer[] = [];
  p.stdout.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve, reject) => {
    p.stdout.once('end', resolve);
    p.stdout.once('error', reject);
  });
  await p.done;
  return Buffer.concat(chunks).toString('utf8');
}
