/**
 * deploy/kubernetes: every manifest validates against the Kubernetes (and
 * Prometheus Operator) schemas, strictly. kubernetes-models' validate()
 * checks types, formats and required fields but lets unknown fields through
 * (a misspelled `securityContxt` passes), so each manifest is also
 * type-checked by the TypeScript compiler as an object literal of the
 * model's interface: excess property checks reject any field the schema does
 * not have, at every depth. The kustomization names every manifest, the
 * ConfigMap's configuration is valid for Backtrack itself and matches the
 * mounts, the pod keeps the image's rules (uid, read-only root, volumes), and
 * the PrometheusRule is the alert rules file, rendered (promtool checks it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { envVariable, optionRows } from '../../../src/config/reference.js';
import { findBinary } from '../../../src/scratch/spawn.js';
// @ts-expect-error: a plain .mjs script, no types
import { ALERTS, RULE, renderPrometheusRule } from '../../../scripts/prometheus-rule.mjs';

const DIR = path.resolve('deploy/kubernetes');
const NOT_MANIFESTS = new Set(['kustomization.yaml', 'backtrack.yaml']);

/** apiVersion/kind -> the kubernetes-models module and its interface. */
const MODELS: Record<string, { module: string; iface: string }> = {
  'v1/Namespace': { module: 'kubernetes-models/v1/Namespace', iface: 'INamespace' },
  'v1/ServiceAccount': { module: 'kubernetes-models/v1/ServiceAccount', iface: 'IServiceAccount' },
  'v1/Service': { module: 'kubernetes-models/v1/Service', iface: 'IService' },
  'apps/v1/Deployment': { module: 'kubernetes-models/apps/v1/Deployment', iface: 'IDeployment' },
  'policy/v1/PodDisruptionBudget': { module: 'kubernetes-models/policy/v1/PodDisruptionBudget', iface: 'IPodDisruptionBudget' },
  'monitoring.coreos.com/v1/ServiceMonitor': { module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor', iface: 'IServiceMonitor' },
  'monitoring.coreos.com/v1/PrometheusRule': { module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule', iface: 'IPrometheusRule' },
};

interface Manifest {
  file: string;
  doc: Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string } };
}

function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && !NOT_MANIFESTS.has(f)).sort()) {
    for (const d of parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'))) {
      expect(d.errors, file).toEqual([]);
      out.push({ file, doc: d.toJS() as Manifest['doc'] });
    }
  }
  return out;
}

/**
 * TypeScript's diagnostics for the manifests written as object literals of
 * their models' interfaces (a virtual file beside the tests, so the models
 * resolve from node_modules).
 */
function typeCheck(list: Manifest[]): string[] {
  const file = path.resolve('test/integration/packaging/__manifests__.ts');
  const lines: string[] = [];
  list.forEach((m, i) => {
    const model = MODELS[`${m.doc.apiVersion}/${m.doc.kind}`]!;
    lines.push(`import type { ${model.iface} as M${i} } from '${model.module}';`);
  });
  list.forEach((m, i) => {
    const body = JSON.stringify(m.doc, null, 1).split('\n');
    lines.push(`export const m${i}: M${i} = ${body.join('\n')};`);
  });
  const text = lines.join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (path.resolve(name) === file ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, source).map((d) => {
    const line = d.start !== undefined ? source.getLineAndCharacterOfPosition(d.start).line : -1;
    const owner = text.split('\n').slice(0, line + 1).reverse().find((l) => l.startsWith('export const m'))?.match(/m(\d+)/)?.[1];
    const m = owner !== undefined ? list[Number(owner)] : undefined;
    return `${m ? `${m.file} (${m.doc.kind})` : 'manifests'}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

const promtool = findBinary(['promtool']);
const required = process.env.BACKTRACK_REQUIRE_ALL === '1';

describe('deploy/kubernetes', () => {
  const list = manifests();
  const deployment = list.find((m) => m.doc.kind === 'Deployment')!.doc as unknown as {
    spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> & { securityContext: Record<string, unknown>; containers: Array<Record<string, unknown>>; volumes: Array<Record<string, unknown> & { name: string }> } } };
  };

  it('has the manifests the issue asks for, each of a known kind', () => {
    expect(list.map((m) => m.doc.kind).sort()).toEqual(['Deployment', 'Namespace', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'ServiceAccount', 'ServiceMonitor']);
    for (const m of list) expect(MODELS[`${m.doc.apiVersion}/${m.doc.kind}`], `${m.file}: ${m.doc.apiVersion} ${m.doc.kind}`).toBeDefined();
  });

  it('validates against the Kubernetes and Prometheus Operator schemas (types, formats, required fields)', async () => {
    for (const m of list) {
      const model = MODELS[`${m.doc.apiVersion}/${m.doc.kind}`]!;
      const mod = (await import(model.module)) as Record<string, new (d: unknown) => { validate(): void }>;
      const Model = mod[m.doc.kind]!;
      expect(() => new Model(m.doc).validate(), m.file).not.toThrow();
    }
    // The check can fail: a replica count of the wrong type.
    const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
    expect(() => new Deployment({ ...(deployment as object), spec: { ...deployment.spec, replicas: 'two' } } as never).validate()).toThrow();
  });

  it('has no field the schemas do not know, at any depth', () => {
    expect(typeCheck(list)).toEqual([]);
    // The check can fail: a misspelled field deep in the pod template is named.
    const bad = structuredClone(list);
    const d = bad.find((m) => m.doc.kind === 'Deployment')!.doc as unknown as typeof deployment;
    const c = d.spec.template.spec.containers[0]!;
    c.securityContxt = c.securityContext;
    delete c.securityContext;
    expect(typeCheck(bad).join('\n')).toMatch(/deployment\.yaml \(Deployment\): .*'"securityContxt"' does not exist in type 'IContainer'/);
  });

  it('is one kustomization: every manifest is a resource, the config is generated into the ConfigMap the pods mount', () => {
    const k = parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[]; configMapGenerator: Array<{ name: string; files: string[] }> };
    expect([...k.resources].sort()).toEqual([...new Set(list.map((m) => m.file))].sort());
    for (const g of k.configMapGenerator) for (const f of g.files) expect(existsSync(path.join(DIR, f)), f).toBe(true);
    const configVolume = deployment.spec.template.spec.volumes.find((v) => (v.configMap as { name?: string } | undefined)?.name);
    expect(k.configMapGenerator.map((g) => g.name)).toContain((configVolume!.configMap as { name: string }).name);
    // kubectl kustomize builds it where kubectl is installed (not needed by CI).
    const kubectl = findBinary(['kubectl']);
    if (kubectl) {
      const out = execFileSync(kubectl, ['kustomize', DIR], { encoding: 'utf8' });
      const kinds = parseAllDocuments(out).map((d) => (d.toJS() as { kind: string }).kind);
      expect(kinds.sort()).toEqual(['ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'ServiceAccount', 'ServiceMonitor']);
    }
  });

  it('runs the image as it is built: its uid, a read-only root, a volume for every written path, probes through backtrack health', () => {
    const pod = deployment.spec.template.spec;
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const uid = /^USER (\d+)/m.exec(dockerfile)![1];
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(uid) });
    const c = pod.containers[0] as { securityContext: Record<string, unknown>; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>; livenessProbe: { exec: { command: string[] } }; readinessProbe: { exec: { command: string[] } }; resources: { limits: Record<string, string> } };
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const volumes = JSON.parse(/^VOLUME (.*)$/m.exec(dockerfile)![1]!) as string[];
    for (const v of volumes) {
      const mount = c.volumeMounts.find((m) => m.mountPath === v);
      expect(mount, `${v} is mounted`).toBeDefined();
      expect(pod.volumes.find((x) => x.name === mount!.name)?.emptyDir, `${v} is an emptyDir`).toBeDefined();
    }
    expect(c.livenessProbe.exec.command.slice(-2)).toEqual(['health', '--live']);
    expect(c.readinessProbe.exec.command.slice(-1)).toEqual(['health']);
    expect(c.resources.limits.memory).toBeDefined();
    // Disk-backed emptyDirs count toward ephemeral-storage: the limit must hold them, or a drill gets the pod evicted.
    const gib = (q: string) => Number(/^(\d+(?:\.\d+)?)(Gi|Mi)$/.exec(q)![1]) / (q.endsWith('Mi') ? 1024 : 1);
    const onDisk = pod.volumes.filter((v) => v.emptyDir && (v.emptyDir as { medium?: string }).medium !== 'Memory').map((v) => gib((v.emptyDir as { sizeLimit: string }).sizeLimit));
    expect(gib(c.resources.limits['ephemeral-storage']!)).toBeGreaterThanOrEqual(onDisk.reduce((a, b) => a + b, 0));
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    // The PDB and the Service select the pods.
    for (const kind of ['PodDisruptionBudget', 'Service']) {
      const spec = list.find((m) => m.doc.kind === kind)!.doc.spec as { selector: Record<string, string> & { matchLabels?: Record<string, string> } };
      expect(deployment.spec.template.metadata.labels, kind).toMatchObject(spec.selector.matchLabels ?? spec.selector);
    }
  });

  it('ships a configuration Backtrack accepts, whose files are where the pod mounts them', () => {
    const file = '/etc/backtrack/backtrack.yaml';
    const cfg = parseConfig(parse(readFileSync(path.join(DIR, 'backtrack.yaml'), 'utf8')), file);
    const c = deployment.spec.template.spec.containers[0] as { env: Array<{ name: string; value?: string }>; volumeMounts: Array<{ mountPath: string }> };
    expect(c.env.find((e) => e.name === 'BACKTRACK_CONFIG')?.value).toBe(file);
    const mounted = (p: string) => c.volumeMounts.some((m) => p === m.mountPath || p.startsWith(`${m.mountPath}/`));
    expect(cfg.repository.url).toMatch(/^s3:\/\//);
    for (const p of [cfg.workDir, cfg.http.tokenFile!, ...cfg.sources.map((s) => s.mysql.passwordFile!)]) expect(mounted(p), p).toBe(true);
    expect(cfg.http.listen).toMatch(/^0\.0\.0\.0:9464$/);
    // Every BACKTRACK_ variable the pod sets is an option (a misspelled one would stop the daemon).
    const variables = new Set(optionRows().map((r) => envVariable(r.option)));
    const set = c.env.filter((e) => e.name.startsWith('BACKTRACK_') && e.name !== 'BACKTRACK_CONFIG');
    expect(set.map((e) => e.name)).toContain('BACKTRACK_HTTP_ADVERTISE_URL');
    for (const e of set) expect(variables.has(e.name), e.name).toBe(true);
    // A variable the pod uses in another is defined before it (Kubernetes expands only earlier ones).
    for (const [i, e] of c.env.entries()) for (const [, ref] of (e.value ?? '').matchAll(/\$\((\w+)\)/g)) expect(c.env.findIndex((x) => x.name === ref), `${ref} before ${e.name}`).toBeLessThan(i);
  });

  it('carries the alert rules as they are in config/prometheus/alerts.yaml (run node scripts/prometheus-rule.mjs after changing them)', async () => {
    expect(readFileSync(RULE as string, 'utf8')).toBe((renderPrometheusRule as (t: string) => string)(readFileSync(ALERTS as string, 'utf8')));
    if (!promtool && !required) return;
    expect(promtool, 'promtool is required here (BACKTRACK_REQUIRE_ALL=1): apt-get install prometheus').toBeDefined();
    const dir = mkdtempSync(path.join(tmpdir(), 'bt-rule-'));
    const rules = path.join(dir, 'rules.yaml');
    writeFileSync(rules, JSON.stringify({ groups: (parse(readFileSync(RULE as string, 'utf8')) as { spec: { groups: unknown } }).spec.groups }));
    const r = spawnSync(promtool!, ['check', 'rules', rules], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });
});
