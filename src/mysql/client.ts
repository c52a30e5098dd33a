/**
 * Credentials for the command-line tools (dump, client, binlog). The password
 * never goes on the command line (where `ps` shows it), never into the
 * environment (MYSQL_PWD is deprecated in MySQL 8), and never into a file
 * with a name: the options are written to an unnamed file (O_TMPFILE, or a
 * temp file unlinked the moment it is opened where the file system lacks
 * O_TMPFILE) and the tool inherits it as file descriptor 3, reading it as
 * `--defaults-extra-file=/dev/fd/3`. Nothing is left on disk when the
 * process dies, kill -9 included: the file has no name to leave behind.
 */
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ConnectionSpec } from './connect.js';

/** The file descriptor the tools are given the options on. */
export const CREDENTIALS_FD = 3;

/** What a tool needs: `args` first on its command line, `fds` inherited from fd 3 on. */
export interface ClientCredentials {
  args: string[];
  fds: number[];
}

/** Linux's O_TMPFILE (asm-generic value, with O_DIRECTORY, as the kernel defines it). */
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

function optionValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The option file's text for a connection. */
export function optionFileText(spec: ConnectionSpec): string {
  const lines = ['[client]', `user=${optionValue(spec.user)}`];
  if (spec.password !== undefined) lines.push(`password=${optionValue(spec.password)}`);
  if (spec.socket) lines.push(`socket=${optionValue(spec.socket)}`);
  else lines.push(`host=${optionValue(spec.host)}`, `port=${spec.port}`, 'protocol=TCP');
  return `${lines.join('\n')}\n`;
}

/** An open file without a name, holding `text`; the caller closes it. */
export function unnamedFile(text: string, dir = tmpdir()): number {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDWR | O_TMPFILE, 0o600);
  } catch {
    // No O_TMPFILE here: a private name that lives only until it is open.
    const file = path.join(dir, `.backtrack-cred-${process.pid}-${randomBytes(6).toString('hex')}`);
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    unlinkSync(file);
  }
  try {
    writeSync(fd, text, 0);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** Run `fn` with credentials for the tools; the descriptor is closed afterwards whatever happens. */
export async function withClientCredentials<T>(spec: ConnectionSpec, fn: (cred: ClientCredentials) => Promise<T>): Promise<T> {
  const fd = unnamedFile(optionFileText(spec));
  try {
    return await fn({ args: [`--defaults-extra-file=/dev/fd/${CREDENTIALS_FD}`], fds: [fd] });
  } finally {
    closeSync(fd);
  }
}
