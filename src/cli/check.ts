/** `backtrack check`: config, connectivity, grants, tools and repository, before anything depends on them. */
import { runChecks } from '../check/checks.js';
import type { Command } from './command.js';

export const checkCommand: Command = {
  name: 'check',
  summary: 'check config, connectivity, grants, repository and tools on PATH',
  usage: 'backtrack check [--json]',
  options: {},
  async run(ctx) {
    const results = await runChecks(ctx.cfg, ctx.configFile);
    const failed = results.filter((r) => r.status === 'fail').length;
    const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
    const lines = results.map((r) => `${mark[r.status]}  ${r.name}: ${r.detail}${r.fix ? `\n      fix: ${r.fix}` : ''}`);
    lines.push('', failed ? `${failed} check(s) failed` : 'all checks passed');
    return { exitCode: failed ? 1 : 0, json: { ok: failed === 0, checks: results }, text: lines.join('\n') };
  },
};
