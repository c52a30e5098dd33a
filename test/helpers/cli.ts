/** Run the real CLI (bin/backtrack -> dist/) as a child process, as an SRE would. */
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { S3_ENV } from './s3.js';

export const BIN = fileURLToPath(new URL('../../bin/backtrack', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when --json was given. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Run a command to completion. */
export async function cli(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const r = await execa(BIN, args, {
    reject: false,
    env: { ...S3_ENV, BACKTRACK_NODE: process.execPath, ...opts.env },
    timeout: opts.timeoutMs ?? 300_000,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
  let json: unknown;
  if (args.includes('--json')) {
    try {
      json = JSON.parse(String(r.stdout));
    } catch {
      json = undefined;
    }
  }
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), json };
}

/** Start a command and return the running child (signals, daemons). */
export function cliSpawn(args: string[], opts: { env?: Record<string, string> } = {}): ResultPromise {
  return execa(BIN, args, { reject: false, env: { ...S3_ENV, BACKTRACK_NODE: process.execPath, ...opts.env }, buffer: true });
}
