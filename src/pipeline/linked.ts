/**
 * Child processes linked by file descriptors: `a | b | c` as the shell does
 * it, with Node holding only the first stage's stdin and the last stage's
 * stdout. A restore uses it so the decompressed SQL goes from zstd straight
 * into the SQL client (relaying hundreds of MB of SQL through Node measured
 * as the largest extra cost of a restore; see scripts/bench).
 *
 * execa cannot hand one child's stdout to another as a file descriptor, so
 * this file uses node:child_process directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { InterruptedError, ToolError } from '../errors.js';
import { childCommand } from './child.js';
import { exitError, notInstalled } from './spawn.js';

/** One program in the chain. */
export interface StageSpec {
  command: string;
  args: string[];
  label: string;
  installHint?: string;
  /** File descriptors the stage inherits as its fds 3, 4, ... (client credentials). */
  fds?: number[];
}

/** A running chain. */
export interface LinkedProcesses {
  /** The first stage's stdin. */
  stdin: Writable;
  /** The last stage's stdout. */
  stdout: Readable;
  /** One promise per stage, in order: resolves on status 0, rejects with ToolError. */
  exits: Array<Promise<void>>;
  kill(): void;
}

/** Start the stages, each reading the previous one's stdout. */
export function spawnLinked(stages: StageSpec[], signal?: AbortSignal): LinkedProcesses {
  const children: ChildProcess[] = [];
  const exits: Array<Promise<void>> = [];
  for (const [i, s] of stages.entries()) {
    const prev = children[i - 1];
    const cmd = childCommand(s.command, s.args) ?? { file: s.command, args: s.args };
    const child = spawn(cmd.file, cmd.args, { stdio: [prev ? prev.stdout! : 'pipe', 'pipe', 'pipe', ...(s.fds ?? [])] });
    // The next child holds its own copy of this pipe end; ours must not read it.
    if (prev) prev.stdout!.destroy();
    children.push(child);
    exits.push(watch(child, s, signal));
  }
  const kill = () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM'));
  signal?.addEventListener('abort', kill, { once: true });
  const first = children[0]!;
  first.stdin!.on('error', () => undefined); // EPIPE when a stage dies early: reported by its exit
  return { stdin: first.stdin!, stdout: children[children.length - 1]!.stdout!, exits, kill };
}

/** Start one program with the given stdio (fd 3 on: the stage's fds); it dies with us. */
export function spawnStage(s: StageSpec, stdin: 'pipe' | 'ignore' | Readable | Writable, stdout: 'pipe' | 'ignore' | Writable, signal?: AbortSignal): { child: ChildProcess; exit: Promise<void> } {
  const cmd = childCommand(s.command, s.args) ?? { file: s.command, args: s.args };
  const child = spawn(cmd.file, cmd.args, { stdio: [stdin, stdout, 'pipe', ...(s.fds ?? [])] });
  if (child.stdin) child.stdin.on('error', () => undefined); // EPIPE when it dies early: reported by its exit
  const kill = () => child.exitCode === null && child.kill('SIGTERM');
  signal?.addEventListener('abort', kill, { once: true });
  const exit = watch(child, s, signal);
  void exit.finally(() => signal?.removeEventListener('abort', kill)).catch(() => undefined);
  return { child, exit };
}

/** Settles when a stage exits: resolves on status 0, rejects with ToolError (or InterruptedError when aborted). */
export function watch(child: ChildProcess, s: StageSpec, signal?: AbortSignal): Promise<void> {
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (tail = (tail + d).slice(-8192)));
  const p = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? notInstalled(s.label, s.command, s.installHint, err) : new ToolError(`${s.label} could not start: ${err.message}`, err, { tool: s.command })),
    );
    child.once('close', (code, sig) => {
      if (signal?.aborted) return reject(new InterruptedError(`${s.label} was stopped: interrupted`));
      if (code === 0) return resolve();
      reject(exitError(s.label, s.command, code, sig, tail));
    });
  });
  p.catch(() => undefined);
  return p;
}
