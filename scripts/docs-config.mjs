// Rewrites the configuration reference section of README.md from the zod
// schema (npm run docs:config). A unit test fails when README is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { withReference } = await import(path.join(root, 'dist/config/reference.js'));
const readme = path.join(root, 'README.md');
writeFileSync(readme, withReference(readFileSync(readme, 'utf8')));
console.log(`updated ${readme}`);
