#!/usr/bin/env node
/**
 * The CLI entry: parse the command line, load the config, set up logging and
 * signals, run the command, print its text or --json document, and exit with
 * the documented code. Commands themselves live one per file beside this one.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { BacktrackError, EXIT_CODES, UsageError, asBacktrackError, exitCodeTable } from '../errors.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../observability/logger.js';
import { SOURCE_OPTION, dryRunOption, type Command, type CommandContext, type OptionSpec } from './command.js';
import { COMMANDS } from './commands.js';

/** Flags every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  config: { type: 'string', arg: 'FILE', description: 'config file (default $BACKTRACK_CONFIG, then ./config/backtrack.yaml, then /etc/backtrack/backtrack.yaml; none: the BACKTRACK_* variables alone). Precedence: flag > environment (BACKTRACK_<OPTION>) > file' },
  json: { type: 'boolean', description: 'print one JSON document on stdout (logs stay on stderr)' },
  'log-level': { type: 'string', arg: 'LEVEL', description: 'trace, debug, info, warn, error (default from config, info)' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

function version(): string {
  // dist/cli/main.js or the bundle dist/backtrack.mjs: package.json is two or one level up.
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

/** The top-level help text. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'backtrack - backups, restore drills and point-in-time recovery for MySQL and MariaDB',
    '',
    'Usage: backtrack <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Exit codes:',
    exitCodeTable(),
    '',
    'Run "backtrack <command> --help" for a command\'s options, "backtrack help config" for every config option.',
  ].join('\n');
}

function optionLines(opts: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(opts).map(([name, o]) => [`${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`, o.description] as const);
  const width = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([flag, desc]) => `  ${flag.padEnd(width)}  ${desc}`);
}

/** A command's own flags with the shared ones it asks for (--source, --dry-run), declared in command.ts. */
export function commandOptions(c: Command): Record<string, OptionSpec> {
  return {
    ...(c.source ? { source: SOURCE_OPTION[c.source] } : {}),
    ...c.options,
    ...(c.dryRun ? { 'dry-run': dryRunOption(c.dryRun) } : {}),
  };
}

/** A command's help text. */
export function commandHelp(c: Command): string {
  const options = commandOptions(c);
  return [
    `Usage: ${c.usage}`,
    '',
    c.summary,
    ...(Object.keys(options).length ? ['', 'Options:', ...optionLines(options)] : []),
    '',
    'Common options:',
    ...optionLines(GLOBAL_OPTIONS),
    ...(c.details ? ['', c.details] : []),
    '',
    'Exit codes:',
    exitCodeTable(),
  ].join('\n');
}

function parse(c: Command, argv: string[]) {
  const options: ParseArgsConfig['options'] = {};
  for (const [name, o] of Object.entries({ ...GLOBAL_OPTIONS, ...commandOptions(c) })) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify.*$/s, '')}; see backtrack ${c.name} --help`);
  }
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    // Bare `backtrack` is a request for the overview, not a mistake.
    process.stdout.write(`${mainHelp()}\n`);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`backtrack ${version()}\n`);
    return 0;
  }
  const json = rest.includes('--json');
  try {
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) throw new UsageError(`unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
    const parsed = parse(cmd, rest);
    const stray = parsed.positionals.filter((p) => !(cmd.positionals ?? []).includes(p));
    if (stray.length) {
      throw new UsageError(`backtrack ${cmd.name} takes no argument ${stray.map((p) => `"${p}"`).join(', ')}${cmd.positionals?.length ? ` (it takes: ${cmd.positionals.join(', ')})` : ''}; options start with --; see backtrack ${cmd.name} --help`);
    }
    if (parsed.values.help) {
      process.stdout.write(`${commandHelp(cmd)}\n`);
      return 0;
    }
    return await runCommand(cmd, parsed.values as CommandContext['values'], parsed.positionals, json);
  } catch (err) {
    return reportError(asBacktrackError(err), json);
  }
}

async function runCommand(cmd: Command, values: CommandContext['values'], positionals: string[], json: boolean): Promise<number> {
  const configFlag = typeof values.config === 'string' ? values.config : undefined;
  const loaded = cmd.needsConfig === false ? undefined : loadConfig(configFlag);
  const level = logLevel(typeof values['log-level'] === 'string' ? values['log-level'] : undefined) ?? loaded?.config.log.level;
  const log = createLogger({ ...(level ? { level } : {}), base: { cmd: cmd.name } });
  // Node's warnings (bin/backtrack turns off their plain-text printing) become log lines.
  const onWarning = (w: Error) => log.warn({ warning: w.name }, w.message);
  process.on('warning', onWarning);
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      // A second signal: the user means it.
      process.exit(EXIT_CODES.interrupted.code);
    }
    const timeoutMs = loaded?.config.shutdownTimeout ?? DEFAULT_SHUTDOWN_MS;
    log.warn({ signal: sig, timeoutMs }, 'stopping: finishing cleanup (send the signal again to exit at once)');
    // Whatever the command is stuck in, it ends within shutdownTimeout.
    setTimeout(() => {
      log.error({ signal: sig, timeoutMs }, 'cleanup did not finish within shutdownTimeout; exiting anyway');
      process.exit(EXIT_CODES.interrupted.code);
    }, timeoutMs).unref();
    ac.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await cmd.run({
      values,
      positionals,
      json,
      cfg: loaded?.config as CommandContext['cfg'],
      configFile: loaded?.file ?? '',
      log,
      signal: ac.signal,
      say: (t) => {
        if (!json) process.stdout.write(`${t}\n`);
      },
    });
    process.stdout.write(json ? `${JSON.stringify(result.json, null, 2)}\n` : result.text ? `${result.text}\n` : '');
    return result.exitCode ?? 0;
  } finally {
    process.off('warning', onWarning);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** shutdownTimeout's default, for commands that run without a config. */
const DEFAULT_SHUTDOWN_MS = 30_000;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** --log-level, then BACKTRACK_LOG_LEVEL; a bad value is a usage error naming where it came from. */
function logLevel(flag: string | undefined): string | undefined {
  const [value, from] = flag !== undefined ? [flag, '--log-level'] : [process.env.BACKTRACK_LOG_LEVEL, 'BACKTRACK_LOG_LEVEL'];
  if (value === undefined || value === '') return undefined;
  if (!LEVELS.includes(value)) throw new UsageError(`${from} "${value}" is not a log level; use one of ${LEVELS.join(', ')}`);
  return value;
}

function reportError(err: BacktrackError, json: boolean): number {
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, ...err.toJSON() }, null, 2)}\n`);
  process.stderr.write(`backtrack: error: ${err.message}\n`);
  if (process.env.BACKTRACK_DEBUG && err.cause) process.stderr.write(`cause: ${String((err.cause as Error)?.stack ?? err.cause)}\n`);
  return err.exitCode;
}

// Run when executed directly (bin/backtrack), not when imported by tests.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  // Exit explicitly once stdout has drained: idle keep-alive sockets of the
  // S3 client must not keep a finished command alive.
  const exit = (code: number) => process.stdout.write('', () => process.exit(code));
  main(process.argv.slice(2)).then(exit, (err: unknown) => {
    process.stderr.write(`backtrack: internal error: ${String((err as Error)?.stack ?? err)}\n`);
    exit(EXIT_CODES.failed.code);
  });
}
