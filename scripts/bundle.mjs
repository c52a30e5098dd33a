// Bundles the CLI into one file, dist/backtrack.mjs, which bin/backtrack runs.
// Why: loading ~1500 small modules from node_modules took ~0.55s of every
// command's start; one pre-linked file starts in a fraction of that.
// dist/ (from tsc) stays the library entry point (src/index.ts) with types.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
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

// The status page: one self-contained HTML file (preact, bundled and
// minified, styles inline; nothing fetched at run time), served by the daemon
// at /. Its Content-Security-Policy allows exactly these inline script and
// style blocks (by hash), and requests to the daemon itself.
const ui = await build({
  entryPoints: [path.join(root, 'src/ui/app.tsx')],
  bundle: true,
  write: false,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
const script = ui.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
const style = readFileSync(path.join(root, 'src/ui/style.css'), 'utf8');
const hash = (t) => `'sha256-${createHash('sha256').update(t).digest('base64')}'`;
const csp = `default-src 'none'; script-src ${hash(script)}; style-src ${hash(style)}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'`;
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<title>Backtrack status</title>
<style>${style}</style>
</head>
<body>
<div id="app"><main><h1>Backtrack</h1><p>Loading the status… (this page needs JavaScript)</p></main></div>
<script>${script}</script>
</body>
</html>
`;
writeFileSync(path.join(root, 'dist/status.html'), html);
if (process.env.BACKTRACK_BUNDLE_REPORT) console.log(`dist/status.html: ${html.length} bytes, ${gzipSync(html).length} gzipped`);
