import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { optionRows, withReference } from '../../../src/config/reference.js';

describe('the configuration reference', () => {
  it('lists every option with its default and meaning', () => {
    const rows = optionRows();
    const byName = Object.fromEntries(rows.map((r) => [r.option, r]));
    expect(byName['sources[].binlog.uploadInterval']).toMatchObject({ default: '"5s"' });
    expect(byName['sources[].mysql.port']).toMatchObject({ default: '3306', type: 'integer' });
    expect(byName['sources[].verify.scratch.mode']?.type).toMatch(/spawn.*server/);
    for (const r of rows) expect(r.description, `${r.option} has no description`).not.toBe('');
  });

  it('is what README.md carries (run npm run docs:config after changing the schema)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(withReference(readme)).toBe(readme);
  });
});
