/**
 * The flags several commands share are declared once (command.ts and
 * main.ts's GLOBAL_OPTIONS): no command declares its own --source, --dry-run,
 * --config, --json, --log-level or --help, and every command that takes
 * --source gets the same flag and the same help line for its kind.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/commands.js';
import { SOURCE_OPTION } from '../../../src/cli/command.js';
import { GLOBAL_OPTIONS, commandHelp, commandOptions } from '../../../src/cli/main.js';
import { escapeRegExp } from '../../../src/mysql/connect.js';

const SHARED = ['source', 'dry-run', ...Object.keys(GLOBAL_OPTIONS)];

describe('shared command-line flags', () => {
  it('are declared once, not by each command', () => {
    for (const c of COMMANDS) {
      for (const name of SHARED) expect(Object.keys(c.options), `backtrack ${c.name} declares --${name} itself`).not.toContain(name);
    }
  });

  it('reach every command that asks for them, with one help text per kind', () => {
    const withSource = COMMANDS.filter((c) => c.source);
    expect(withSource.map((c) => c.name).sort()).toEqual(['backup', 'binlog', 'find', 'list', 'prune', 'restore', 'undo', 'verify']);
    for (const c of withSource) {
      expect(commandOptions(c).source).toBe(SOURCE_OPTION[c.source!]);
      expect(commandHelp(c)).toMatch(new RegExp(`--source NAME +${escapeRegExp(SOURCE_OPTION[c.source!].description)}`));
    }
    for (const c of COMMANDS.filter((x) => x.dryRun)) expect(commandHelp(c)).toMatch(new RegExp(`--dry-run +${escapeRegExp(c.dryRun!)}`));
    // The precedence of flag, environment and file is stated in every command's help.
    for (const c of COMMANDS) expect(commandHelp(c)).toContain('Precedence: flag > environment (BACKTRACK_<OPTION>) > file');
  });
});
