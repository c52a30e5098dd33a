/**
 * The shipped Grafana dashboard: a `source` variable, every query filtered by
 * it, and every metric it names is one the daemon exports.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('config/grafana/backtrack.json', () => {
  it('has a source variable that every query uses, and only metrics the daemon exports', async () => {
    const d = JSON.parse(await readFile(path.resolve('config/grafana/backtrack.json'), 'utf8'));
    const source = d.templating.list.find((v: { name: string }) => v.name === 'source');
    expect(source).toMatchObject({ type: 'query', multi: true, includeAll: true });
    expect(source.definition).toMatch(/^label_values\(backtrack_\w+, source\)$/);
    const exported = new Set([...(await readFile(path.resolve('src/observability/metrics.ts'), 'utf8')).matchAll(/'(backtrack_[a-z_]+)'/g)].map((m) => m[1]));
    const exprs: string[] = d.panels.flatMap((p: { targets?: Array<{ expr: string }> }) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(5);
    for (const e of exprs) {
      for (const m of e.matchAll(/\b(backtrack_[a-z_]+)\b(\{[^}]*\})?/g)) {
        expect(exported.has(m[1] as string) || exported.has((m[1] as string).replace(/_total$/, '')), `${m[1]} in "${e}" is not a metric of src/observability/metrics.ts`).toBe(true);
        expect(m[2], `${m[1]} in "${e}" is not filtered by $source`).toMatch(/source=~"\$source"/);
      }
    }
    const varName = (source.definition as string).match(/label_values\((\w+),/)?.[1];
    expect(exported.has(varName as string)).toBe(true);
  });
});
