// Bundles the CLI into one file, dist/backtrack.mjs, which bin/backtrack runs.
// Why: loading ~1500 small modules from node_modules took ~0.55s of every
// command's start; one pre-linked file starts in a fraction of that.
// dist/ (from tsc) stays the library entry point (src/index.ts) with types.
import { build } from 'esbuild';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  outfile: path.join(root, 'dist/backtrack.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
  // Some dependencies are CommonJS and call require(); give the bundle one.
  banner: { js: "import { createRequire as __btCreateRequire } from 'node:module'; const require = __btCreateRequire(import.meta.url);" },
});
// The scratch watchdog is found next to the code that starts it.
copyFileSync(path.join(root, 'src/scratch/watchdog.sh'), path.join(root, 'dist/watchdog.sh'));
