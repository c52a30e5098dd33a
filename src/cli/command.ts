/**
 * What a command is: its flags (with their help text), whether it needs the
 * config, and a run function that returns both a human text and a JSON
 * document. main.ts does the rest (parsing, logging, signals, exit codes).
 */
import { selectSource } from '../config/load.js';
import type { Config, SourceConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';

/** One flag of a command. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help, e.g. ID or TIME. */
  arg?: string;
  description: string;
}

/** What a command's run function gets. */
export interface CommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  json: boolean;
  cfg: Config;
  configFile: string;
  log: Logger;
  /** Fires on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** Write a line to stdout now (only for text mode; a plan before a long job). */
  say(text: string): void;
}

/**
 * The flags several commands share, declared here once. A command does not
 * list them in its `options`: `source` and `dryRun` on the command ask for
 * them, and main.ts adds them, with `--config`, `--json`, `--log-level` and
 * `--help`, to every command's parser and help.
 */
export const SOURCE_OPTION = {
  one: { type: 'string', arg: 'NAME', description: 'the source to work on (default: the only configured one; needed when there are several)' },
  each: { type: 'string', arg: 'NAME', description: 'only this source (default: every configured source)' },
} as const satisfies Record<string, OptionSpec>;

/** The --dry-run flag of a command, with what its dry run does. */
export function dryRunOption(what: string): OptionSpec {
  return { type: 'boolean', description: what };
}

/** The source --source names, or the only configured one (a command with `source: 'one'`). */
export function oneSource(ctx: CommandContext): SourceConfig {
  return selectSource(ctx.cfg, str(ctx, 'source'));
}

/** The source --source names, or every configured one (a command with `source: 'each'`). */
export function eachSource(ctx: CommandContext): SourceConfig[] {
  const name = str(ctx, 'source');
  return name ? [selectSource(ctx.cfg, name)] : ctx.cfg.sources;
}

/** What a command returns. */
export interface CommandResult {
  /** Exit code; default 0. */
  exitCode?: number;
  /** The --json document. */
  json: unknown;
  /** The human-readable output (stdout). */
  text: string;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Longer help text after the options. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** Takes --source: 'one' works on one source (oneSource), 'each' on every source or the one named (eachSource). */
  source?: keyof typeof SOURCE_OPTION;
  /** Takes --dry-run; the text says what its dry run does. */
  dryRun?: string;
  /** Positional words the command takes (e.g. `help config`); any other is refused. */
  positionals?: string[];
  /** Commands like `help` run without a config file. */
  needsConfig?: boolean;
  run(ctx: CommandContext): Promise<CommandResult>;
}

/** Read a string flag. */
export function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Read a boolean flag. */
export function bool(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true;
}

/** Read a repeatable string flag (every occurrence, in order). */
export function strs(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
