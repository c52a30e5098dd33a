/**
 * Before any test: the CLI the integration tests run is dist/, so rebuild it
 * when a source file is newer (npm test builds first anyway; this keeps a
 * lone `npx vitest run ...` honest). And the real servers tests need must be
 * installed: a missing one fails the run instead of skipping tests.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary } from '../src/scratch/spawn.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const built = path.join(root, 'dist/cli/main.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newest(path.join(root, 'src'))) {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  }
  const missing = ['mariadbd', 'mariadb-install-db', 'mariadb', 'mariadb-dump', 'mariadb-binlog', 'zstd'].filter((b) => !findBinary([b]));
  if (missing.length) throw new Error(`the tests need ${missing.join(', ')}; run scripts/setup (apt-get install mariadb-server mariadb-client zstd)`);
}
