/**
 * How every child process is started, so that none outlives Backtrack:
 * the command is found on PATH first (a missing tool is reported by name,
 * before anything runs), and it is started through util-linux's `setpriv
 * --pdeathsig KILL`, which asks the kernel to kill the child the moment its
 * parent dies, kill -9 included (Node cannot set PR_SET_PDEATHSIG itself).
 * Where setpriv is missing (not Linux), children are started as they are,
 * and the ordinary cleanup on exit is all there is.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

let setpriv: string | null | undefined;

/** The full path of `command` on PATH (or as given, when it has a slash); undefined when absent. */
export function findOnPath(command: string): string | undefined {
  const candidates = command.includes('/') ? [command] : (process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, command));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The program and arguments to start so that `command` dies with this process; undefined when the command is not installed. */
export function childCommand(command: string, args: string[]): { file: string; args: string[] } | undefined {
  const file = findOnPath(command);
  if (!file) return undefined;
  if (setpriv === undefined) setpriv = findOnPath('setpriv') ?? findOnPath('/usr/bin/setpriv') ?? null;
  return setpriv ? { file: setpriv, args: ['--pdeathsig', 'KILL', '--', file, ...args] } : { file, args };
}
