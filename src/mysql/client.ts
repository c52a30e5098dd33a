/**
 * Credentials for the command-line tools (dump, client, binlog). The password
 * goes into a private defaults file (mode 0600 in a 0700 directory) passed
 * as --defaults-extra-file, never on the command line (where `ps` shows it)
 * and never in the environment (MYSQL_PWD is deprecated in MySQL 8).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ConnectionSpec } from './connect.js';

/** A defaults file for one job; `args` must come first on the tool's command line. */
export interface ClientCredentials {
  args: string[];
  cleanup(): Promise<void>;
}

function optionValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Write the defaults file for a connection. */
export async function clientCredentials(spec: ConnectionSpec): Promise<ClientCredentials> {
  const dir = await mkdtemp(path.join(tmpdir(), 'backtrack-cred-'));
  const file = path.join(dir, 'client.cnf');
  const lines = ['[client]', `user=${optionValue(spec.user)}`];
  if (spec.password !== undefined) lines.push(`password=${optionValue(spec.password)}`);
  if (spec.socket) lines.push(`socket=${optionValue(spec.socket)}`);
  else lines.push(`host=${optionValue(spec.host)}`, `port=${spec.port}`, 'protocol=TCP');
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return {
    args: [`--defaults-extra-file=${file}`],
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Run `fn` with credentials, removing the file afterwards whatever happens. */
export async function withClientCredentials<T>(spec: ConnectionSpec, fn: (args: string[]) => Promise<T>): Promise<T> {
  const cred = await clientCredentials(spec);
  try {
    return await fn(cred.args);
  } finally {
    await cred.cleanup();
  }
}
