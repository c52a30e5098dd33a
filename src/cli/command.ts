/**
 * What a command is: its flags (with their help text), whether it needs the
 * config, and a run function that returns both a human text and a JSON
 * document. main.ts does the rest (parsing, logging, signals, exit codes).
 */
import type { Config } from '../config/schema.js';
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
