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
  if (ref.passwordFile) return readPasswordFile(ref.passwordFile, `the ${what} password file`, (m) => new ConfigError(`${m}; or fix passwordFile`));
  if (ref.passwordEnv) {
    const v = env[ref.passwordEnv];
    if (v === undefined) throw new ConfigError(`the ${what} password variable ${ref.passwordEnv} is not set; export it or fix passwordEnv`);
    return v;
  }
  return undefined;
}

/**
 * A password file's first line. An empty file is an error of its own: it
 * would otherwise be sent as an empty password and reported by the server
 * as a wrong one, which sends the SRE after the wrong problem.
 */
export function readPasswordFile(file: string, what: string, error: (message: string) => Error): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw error(`cannot read ${what} ${file}: ${(err as Error).message}; create it (mode 0600) with the password on its first line`);
  }
  const first = text.split(/\r?\n/)[0] ?? '';
  if (first === '') throw error(`${what} ${file} is empty${text.length ? ' on its first line' : ''}: write the password on its first line`);
  return first;
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

/** A token of the HTTP API and the name audit events record for it. */
export interface ApiToken {
  name: string;
  token: string;
}

/** Parse a token file: one token per line, optionally "name:token"; # starts a comment line. */
export function parseTokens(text: string): ApiToken[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const i = l.indexOf(':');
      return i > 0 ? { name: l.slice(0, i), token: l.slice(i + 1) } : { name: 'api', token: l };
    });
}

/** The API's tokens; a file that names none would silently disable the API, so it is refused. */
export function readApiTokens(file: string): ApiToken[] {
  const tokens = parseTokens(readTokenFile(file, 'API token'));
  if (tokens.length === 0) throw new ConfigError(`http.tokenFile ${file} holds no token (only comments or blank lines): write one token per line (optionally name:token), or remove http.tokenFile to run without the API`);
  return tokens;
}
