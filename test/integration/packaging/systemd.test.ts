/**
 * The shipped systemd unit: `systemd-analyze verify` accepts it with no
 * warning (it needs the ExecStart binary to exist: the copy checked points
 * at this checkout's bin/backtrack), it has the directives an SRE expects,
 * and every BACKTRACK_ variable it sets is a configuration option.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyEnv } from '../../../src/config/env.js';
import { BIN } from '../../helpers/cli.js';

const UNIT = path.resolve('config/systemd/backtrack.service');
const analyze = (() => {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return 'systemd-analyze';
  } catch {
    return undefined;
  }
})();
const required = process.env.BACKTRACK_REQUIRE_ALL === '1';

describe('config/systemd/backtrack.service', () => {
  it('passes systemd-analyze verify without a warning', async () => {
    if (!analyze && !required) return;
    expect(analyze, 'systemd-analyze is required here (BACKTRACK_REQUIRE_ALL=1): apt-get install systemd').toBeDefined();
    const dir = await mkdtemp(path.join(tmpdir(), 'bt-unit-'));
    const copy = path.join(dir, 'backtrack.service');
    await writeFile(copy, (await readFile(UNIT, 'utf8')).replace(/^ExecStart=\/usr\/local\/bin\/backtrack /m, `ExecStart=${BIN} `));
    const r = spawnSync(analyze as string, ['verify', copy], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe('');
    // A misspelled directive is caught the same way (the check can fail).
    await writeFile(copy, (await readFile(copy, 'utf8')).replace('ProtectSystem=', 'ProtectSystm='));
    expect(spawnSync(analyze as string, ['verify', copy], { encoding: 'utf8' }).stderr).toMatch(/Unknown key/);
  });

  it('runs the daemon as its own user, restarts on failure, passes secrets as credentials, and sandboxes it', async () => {
    const unit = await readFile(UNIT, 'utf8');
    for (const line of ['User=backtrack', 'Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'ReadWritePaths=/var/lib/backtrack', 'StateDirectory=backtrack']) expect(unit).toContain(line);
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/backtrack daemon /m);
    expect(unit).toMatch(/^LoadCredential=mysql-password:/m);
    // Every variable it sets is an option (a typo would stop the daemon at start).
    const env = Object.fromEntries([...unit.matchAll(/^Environment=(BACKTRACK_\w+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
    expect(Object.keys(env)).toContain('BACKTRACK_SOURCES_0_MYSQL_PASSWORD_FILE');
    expect(() => applyEnv({ sources: [{ name: 'main' }] }, env)).not.toThrow();
    // Stop within the daemon's own bound.
    const stop = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)?.[1]);
    expect(stop).toBeGreaterThan(30);
  });
});
