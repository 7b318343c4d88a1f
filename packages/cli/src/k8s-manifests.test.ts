/**
 * The example Kubernetes manifests in deploy/k8s: every file parses as YAML, the workloads
 * are the ones docs/operations.md describes (capture: two replicas, one active and one
 * standby; projections: several), probes hit /healthz and /readyz on the port the command
 * serves them on, credentials come from a Secret, and every environment variable a
 * container gets is one the command it runs really reads — so a renamed setting cannot
 * leave a manifest that silently configures nothing.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CAPTURE_USAGE } from './capture/command.js';
import { CAPTURE_ENVIRONMENT } from './capture/environment.js';
import { PROJECTION_USAGE } from './projections/commands.js';
import { PROJECTION_RUNTIME_SETTINGS } from './projections/settings.js';

const K8S = fileURLToPath(new URL('../../../deploy/k8s/', import.meta.url));

interface Container {
  readonly args: string[];
  readonly env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }[];
  readonly envFrom?: { configMapRef?: { name: string } }[];
  readonly ports: { name: string; containerPort: number }[];
  readonly livenessProbe: { httpGet: { path: string; port: string } };
  readonly readinessProbe: { httpGet: { path: string; port: string } };
}
interface Resource {
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly data?: Record<string, string>;
  readonly stringData?: Record<string, string>;
  readonly spec?: { replicas?: number; template?: { spec: { containers: Container[] } } };
}

async function resources(): Promise<Resource[]> {
  const all: Resource[] = [];
  for (const file of (await readdir(K8S)).filter((name) => name.endsWith('.yaml'))) {
    const documents = parseAllDocuments(await readFile(join(K8S, file), 'utf8'));
    for (const document of Array.isArray(documents) ? documents : [documents]) {
      expect(document.errors, file).toEqual([]);
      all.push(document.toJS() as Resource);
    }
  }
  return all;
}

/** Environment variable names a help text or settings table mentions. */
const namesIn = (text: string): string[] =>
  [...text.matchAll(/\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b/g)].map(([name]) => name);

const readBy: Record<string, Set<string>> = {
  capture: new Set([...Object.keys(CAPTURE_ENVIRONMENT), ...namesIn(CAPTURE_USAGE)]),
  project: new Set([
    ...PROJECTION_RUNTIME_SETTINGS.map((setting) => setting.env),
    ...namesIn(PROJECTION_USAGE),
  ]),
};

describe('deploy/k8s', () => {
  it('runs capture as two replicas and the projections as several, with probes and settings the command reads', async () => {
    const all = await resources();
    const byName = (kind: string, name: string): Resource => {
      const found = all.find((r) => r.kind === kind && r.metadata.name === name);
      expect(found, `${kind} ${name}`).toBeDefined();
      return found as Resource;
    };
    const config = byName('ConfigMap', 'tributary').data ?? {};
    const secret = byName('Secret', 'tributary-db').stringData ?? {};
    const capture = byName('Deployment', 'tributary-capture');
    const projections = byName('Deployment', 'tributary-projections');
    expect(capture.spec?.replicas).toBe(2);
    expect(projections.spec?.replicas).toBeGreaterThanOrEqual(2);
    expect(config['TRIBUTARY_TOPIC_REPLICATION_FACTOR']).toBe('3');
    expect(config['TRIBUTARY_TOPIC_MIN_INSYNC_REPLICAS']).toBe('2');

    for (const [deployment, command] of [
      [capture, 'capture'],
      [projections, 'project'],
    ] as const) {
      const [container] = deployment.spec?.template?.spec.containers ?? [];
      if (container === undefined) throw new Error(`${deployment.metadata.name} has no container`);
      expect(container.args[0]).toBe(command);
      const metrics = container.ports.find((port) => port.name === 'metrics');
      expect(String(metrics?.containerPort)).toBe(config['TRIBUTARY_METRICS_PORT']);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
      expect(container.envFrom?.map((from) => from.configMapRef?.name)).toEqual(['tributary']);

      const names = [...Object.keys(config), ...(container.env ?? []).map((entry) => entry.name)];
      const unknown = names.filter((name) => !readBy[command]?.has(name));
      expect(unknown, `variables tributary ${command} does not read`).toEqual([]);
      const database = container.env?.find((entry) => entry.name === 'DATABASE_URL');
      // Credentials only from the Secret, never as a literal value.
      expect(database?.value).toBeUndefined();
      const ref = database?.valueFrom?.secretKeyRef;
      expect(ref?.name).toBe('tributary-db');
      expect(Object.keys(secret)).toContain(ref?.key);
    }
  });

  it('would catch a variable no command reads', () => {
    expect(readBy['capture']?.has('TRIBUTARY_TOPIC_PARTITIONS')).toBe(true);
    expect(readBy['project']?.has('TRIBUTARY_GROUP_PREFIX')).toBe(true);
    expect(readBy['capture']?.has('TRIBUTARY_GROUP_PREFIX')).toBe(false);
    expect(readBy['project']?.has('TRIBUTARY_TOPIC_PARTITONS')).toBe(false);
  });
});
