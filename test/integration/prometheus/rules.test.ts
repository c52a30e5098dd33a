/** The shipped alert rules pass their promtool unit tests (Debian's prometheus package ships promtool). */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { findBinary } from '../../../src/scratch/spawn.js';

const promtool = findBinary(['promtool']);
const dir = fileURLToPath(new URL('../../../config/prometheus/', import.meta.url));
const required = process.env.BACKTRACK_REQUIRE_ALL === '1';

describe('config/prometheus/alerts.yaml', () => {
  it.skipIf(!promtool && !required)('passes promtool check rules and every unit test in alerts.test.yaml', async () => {
    expect(promtool, 'promtool is required here (BACKTRACK_REQUIRE_ALL=1): apt-get install prometheus').toBeDefined();
    const check = await execa(promtool!, ['check', 'rules', 'alerts.yaml'], { cwd: dir, reject: false });
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    const test = await execa(promtool!, ['test', 'rules', 'alerts.test.yaml'], { cwd: dir, reject: false });
    expect(test.exitCode, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toMatch(/SUCCESS/);
  });
});
