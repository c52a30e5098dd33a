/**
 * Secrets come from files or environment variables, read when needed and
 * never stored in the config object, logs or manifests.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/** Where a secret may come from. */
export interface SecretRef {
  passwordFile?: string | undefined;
  passwordEnv?: string | undefined;
}

/** Read a secret: the file's first line, or the variable's value; undefined when neither is set. */
export function readSecret(ref: SecretRef, what: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (ref.passwordFile) {
    try {
      return readFileSync(ref.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (err) {
      throw new ConfigError(`cannot read the ${what} password file ${ref.passwordFile}: ${(err as Error).message}; create it (mode 0600) or fix passwordFile`);
    }
  }
  if (ref.passwordEnv) {
    const v = env[ref.passwordEnv];
    if (v === undefined) throw new ConfigError(`the ${what} password variable ${ref.passwordEnv} is not set; export it or fix passwordEnv`);
    return v;
  }
  return undefined;
}

/** Read a whole-file secret such as an API token (trimmed). */
export function readTokenFile(file: string, what: string): string {
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (!token) throw new Error('the file is empty');
    return token;
  } catch (err) {
    throw new ConfigError(`cannot read the ${what} file ${file}: ${(err as Error).message}`);
  }
}
