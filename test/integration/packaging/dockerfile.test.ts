/**
 * The Dockerfile, linted here because no Docker engine (and no hadolint) runs
 * on this machine: it parses (dockerfile-utils, the VS Code Docker
 * extension's validator), keeps the rules an image for a backup daemon should
 * keep (pinned base and packages, non-root numeric user, exec forms, volumes
 * for everything written, the health check through `backtrack health`), and
 * its runtime stage, laid out from its COPY lines, runs the CLI without
 * node_modules and without a writable home.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../src/config/schema.js';

const TEXT = readFileSync('Dockerfile', 'utf8');
const dockerfile = DockerfileParser.parse(TEXT);
const all = dockerfile.getInstructions();

/** ARG defaults declared before the first FROM and in each stage, by name. */
function argDefaults(list: Instruction[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const i of list) {
    if (i.getKeyword() !== 'ARG') continue;
    const [name, ...rest] = i.getArgumentsContent()!.split('=');
    m.set(name!.trim(), rest.join('=').trim());
  }
  return m;
}
const expand = (s: string, args: Map<string, string>) => s.replace(/\$\{?(\w+)\}?/g, (_, n: string) => args.get(n) ?? `$${n}`);

/** The instructions of each stage (index 0 = before the first FROM). */
const stages: Instruction[][] = [[]];
for (const i of all) {
  if (i.getKeyword() === 'FROM') stages.push([]);
  stages[stages.length - 1]!.push(i);
}
const globals = argDefaults(stages[0]!);
const runtime = stages[stages.length - 1]!;
const runtimeArgs = new Map([...globals, ...argDefaults(runtime)]);
const kw = (list: Instruction[], k: string) => list.filter((i) => i.getKeyword() === k);
const content = (i: Instruction) => i.getArgumentsContent() ?? '';
/** A RUN's shell text with line continuations joined. */
const shell = (i: Instruction) => content(i).replace(/\\\n/g, ' ');

/** Every `apt-get install` in a RUN: its options and package arguments. */
function aptInstalls(run: string): { options: string[]; packages: string[] }[] {
  const out: { options: string[]; packages: string[] }[] = [];
  for (const m of run.matchAll(/apt-get\s+install\s+([^;&|]*)/g)) {
    const words = m[1]!.trim().split(/\s+/).filter(Boolean);
    out.push({ options: words.filter((w) => w.startsWith('-')), packages: words.filter((w) => !w.startsWith('-')) });
  }
  return out;
}

describe('Dockerfile', () => {
  it('parses without a problem', () => {
    expect(validate(TEXT)).toEqual([]);
    // The check can fail: a misspelled instruction is a problem.
    expect(validate(TEXT.replace('HEALTHCHECK', 'HEALTHCHEK')).length).toBeGreaterThan(0);
  });

  it('pins every base image to an exact release', () => {
    const froms = kw(all, 'FROM');
    expect(froms.length).toBe(2);
    for (const f of froms) {
      const image = expand(content(f).split(/\s+/)[0]!, globals);
      expect(image, `FROM ${content(f)}`).toMatch(/^[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$/);
    }
    // The pinned Node satisfies the package's engines.
    const node = /node:(\d+)\.(\d+)\.\d+/.exec(expand(content(froms[1]!), globals));
    const engines = /(\d+)\.(\d+)/.exec((JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node);
    expect(node && engines).toBeTruthy();
    expect(Number(node![1]) * 1000 + Number(node![2])).toBeGreaterThanOrEqual(Number(engines![1]) * 1000 + Number(engines![2]));
  });

  it('installs Debian packages pinned, without recommends, and leaves no package lists behind', () => {
    const runs = kw(runtime, 'RUN').map(shell);
    const installs = runs.flatMap((r) => aptInstalls(r).map((a) => ({ ...a, run: r })));
    expect(installs.length).toBeGreaterThan(0);
    for (const { options, packages, run } of installs) {
      expect(options).toContain('-y');
      expect(options).toContain('--no-install-recommends');
      for (const p of packages) {
        expect(p, `apt-get install ${p}`).toMatch(/^[a-z0-9.+-]+="?\$\w+[^=]*"?$|^[a-z0-9.+-]+=[\w.:+~-]+$/);
        // A version from an ARG must have a default (the MySQL build names its own).
        const arg = /\$\{?(\w+)\}?/.exec(p)?.[1];
        if (arg && arg !== 'MYSQL_VERSION') expect(runtimeArgs.get(arg), `${arg} has a default version`).toMatch(/^[\w.:+~-]+$/);
      }
      expect(run.indexOf('apt-get update')).toBeGreaterThanOrEqual(0);
      expect(run).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
    }
  });

  it('runs pipes under pipefail, and uses no ADD and no relative WORKDIR', () => {
    const shellAt = all.findIndex((i) => i.getKeyword() === 'SHELL');
    expect(content(all[shellAt]!)).toContain('pipefail');
    for (const [n, i] of all.entries()) {
      if (i.getKeyword() === 'RUN' && / \| /.test(shell(i))) expect(n, 'a piped RUN comes after SHELL ... pipefail').toBeGreaterThan(shellAt);
    }
    expect(kw(all, 'ADD')).toEqual([]);
    for (const w of kw(all, 'WORKDIR')) expect(content(w)).toMatch(/^\//);
  });

  it('runs as a numeric non-root user, in exec form, with the health check through backtrack health', () => {
    const users = kw(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    // Numeric, so Kubernetes' runAsNonRoot can check it without a passwd lookup.
    const user = content(users[users.length - 1]!);
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    for (const k of ['ENTRYPOINT', 'CMD']) expect(content(kw(runtime, k)[0]!), k).toMatch(/^\[.*\]$/);
    const hc = content(kw(runtime, 'HEALTHCHECK')[0]!);
    expect(hc).toMatch(/CMD \[.*"health", "--live"\]$/);
    expect(content(kw(runtime, 'ENTRYPOINT')[0]!)).toContain('tini');
  });

  it('declares a volume for every path the daemon writes, so the root filesystem can be read-only', () => {
    const volumes = kw(runtime, 'VOLUME').flatMap((v) => JSON.parse(content(v)) as string[]);
    const defaults = ConfigSchema.parse({ repository: { url: 'file:///r' }, sources: [{ name: 's', mysql: { host: 'h', user: 'u' } }] });
    expect(volumes).toContain(defaults.workDir);
    expect(volumes).toContain('/tmp');
    // The image prepares the work directory for its user.
    expect(kw(runtime, 'RUN').map(shell).join('\n')).toMatch(new RegExp(`chown [^ ]+ ${defaults.workDir}`));
  });

  it('ships only the bundle and what it needs: the runtime stage laid out from its COPY lines runs the CLI', () => {
    const app = mkdtempSync(path.join(tmpdir(), 'bt-image-'));
    let workdir = '/';
    for (const i of runtime) {
      if (i.getKeyword() === 'WORKDIR') workdir = content(i);
      if (i.getKeyword() !== 'COPY') continue;
      const words = i.getTextContent().replace(/\\\n/g, ' ').trim().split(/\s+/).slice(1);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const dest = paths.pop()!;
      for (const src of paths) {
        // From the build stage: /app/... is this checkout's built tree; from the context: the checkout.
        const local = from ? path.resolve(src.replace(/^\/app\//, '')) : path.resolve(src);
        expect(local, 'node_modules and sources stay out of the image').not.toMatch(/node_modules|\/src(\/|$)/);
        expect(existsSync(local), `${src} exists`).toBe(true);
        const target = path.join(app, path.resolve(workdir, dest).replace(/^\/app/, ''), dest.endsWith('/') ? path.basename(src) : '');
        mkdirSync(path.dirname(target), { recursive: true });
        cpSync(local, target, { recursive: true });
      }
    }
    const env = { PATH: process.env.PATH, HOME: '/nonexistent', BACKTRACK_NODE: process.execPath, BACKTRACK_CONFIG: path.join(app, 'config/backtrack.example.yaml') };
    const version = spawnSync(path.join(app, 'bin/backtrack'), ['--version'], { encoding: 'utf8', env, cwd: '/' });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(`backtrack ${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}`);
    // A command that loads the configuration and the whole bundle.
    const help = spawnSync(path.join(app, 'bin/backtrack'), ['help', 'config'], { encoding: 'utf8', env, cwd: '/' });
    expect(help.status, help.stderr).toBe(0);
    expect(existsSync(path.join(app, 'dist/watchdog.sh')), 'the drills\' watchdog is beside the bundle').toBe(true);
    expect(existsSync(path.join(app, 'dist/status.html')), 'the status page is beside the bundle').toBe(true);
    expect(existsSync(path.join(app, 'node_modules'))).toBe(false);
  });
});
