// Renders deploy/kubernetes/prometheusrule.yaml (a Prometheus Operator
// PrometheusRule) from config/prometheus/alerts.yaml, the one source of the
// alert rules: `node scripts/prometheus-rule.mjs`. A test fails when the
// rendered file and the rules drift apart.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ALERTS = path.join(root, 'config/prometheus/alerts.yaml');
export const RULE = path.join(root, 'deploy/kubernetes/prometheusrule.yaml');

/** The PrometheusRule's text for the alert rules' text. */
export function renderPrometheusRule(alertsText) {
  const { groups } = parse(alertsText);
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'backtrack', labels: { 'app.kubernetes.io/component': 'daemon' } },
    spec: { groups },
  };
  return [
    '# Generated from config/prometheus/alerts.yaml by scripts/prometheus-rule.mjs; do not edit.',
    '# Your Prometheus Operator may select rules by a label (ruleSelector): add it in kustomization.yaml.',
    stringify(rule, { lineWidth: 0 }),
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(RULE, renderPrometheusRule(readFileSync(ALERTS, 'utf8')));
  console.log(`wrote ${RULE}`);
}
