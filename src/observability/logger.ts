/**
 * The logger: pino JSON lines on stderr (stdout belongs to command output and
 * --json documents). Child loggers carry the fixed keys `source`, `job` and
 * `backupId`. Secrets are removed twice: by pino's path redaction for
 * structured fields, and by `scrub()` for free text such as a tool's stderr or a
 * DSN that might carry a password.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Field paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'secretAccessKey',
  '*.secretAccessKey',
  '*.*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  'env.MYSQL_PWD',
  '*.env.MYSQL_PWD',
  'env.AWS_SECRET_ACCESS_KEY',
  '*.env.AWS_SECRET_ACCESS_KEY',
];

/** Options for the process logger. */
export interface LoggerOptions {
  level?: string;
  /** Where lines go; default stderr, written synchronously so nothing is lost at exit. */
  destination?: DestinationStream;
  /** Fixed fields on every line. */
  base?: Record<string, unknown>;
}

/** Create the root logger. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.BACKTRACK_LOG_LEVEL ?? 'info',
      base: { pid: process.pid, ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        // Free-text messages can carry secrets too (a DSN, a tool's stderr).
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as typeof args;
          method.apply(this, scrubbed);
        },
      },
      serializers: { err: errSerializer },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything (library use without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@\s]+@/gi, '$1[redacted]@'],
  [/(^|\s)(--password=|-p)(\S+)/g, '$1$2[redacted]'],
  [/(password\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi, '$1[redacted]'],
  [/(IDENTIFIED (?:BY|WITH \S+ AS) )('[^']*'|"[^"]*")/gi, "$1'[redacted]'"],
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1[redacted]'],
];

/** Remove passwords and tokens from free text. */
export function scrub(text: string): string {
  let out = text;
  for (const [re, rep] of SECRET_PATTERNS) out = out.replace(re, rep);
  return out;
}

function errSerializer(err: unknown): unknown {
  const s = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (typeof s.message === 'string') s.message = scrub(s.message);
  if (typeof s.stack === 'string') s.stack = scrub(s.stack);
  return s;
}
