/**
 * The Prometheus and Grafana files in deploy/: the rules and the example configuration pass
 * promtool (Debian's `prometheus` package, installed by scripts/ci-prereqs.sh), the rules'
 * own unit tests pass, and every `tributary_*` metric the rules and the dashboard query is
 * one that @tributary/metrics registers (so a renamed metric cannot leave a dead alert).
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  createInstrumentation,
  type CoreInstrumentationEvents,
  type EventStoreInstrumentationEvents,
} from '@tributary/core';
import {
  createCaptureMetrics,
  createCommandMetrics,
  createEventStoreMetrics,
  createProjectionMetrics,
} from '@tributary/metrics';
import type { CaptureEvents } from '@tributary/outbox';
import type { ProjectionInstrumentationEvents } from '@tributary/projections';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

const deploy = fileURLToPath(new URL('../../../../deploy/', import.meta.url));
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync(PROMTOOL, args, { cwd: `${deploy}prometheus`, encoding: 'utf8' });
  if (run.error !== undefined) {
    throw new Error(
      `${PROMTOOL} could not run (${run.error.message}): install Debian's prometheus package (scripts/ci-prereqs.sh does) or set PROMTOOL`,
    );
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

async function exportedMetricNames(): Promise<Set<string>> {
  const registry = new Registry();
  createCommandMetrics({
    registry,
    instrumentation: createInstrumentation<CoreInstrumentationEvents>(),
  });
  createEventStoreMetrics({
    registry,
    instrumentation: createInstrumentation<EventStoreInstrumentationEvents>(),
  });
  createCaptureMetrics({ registry, instrumentation: createInstrumentation<CaptureEvents>() });
  createProjectionMetrics({
    registry,
    instrumentation: createInstrumentation<ProjectionInstrumentationEvents>(),
  });
  return new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
}

const referencedMetrics = (text: string): Set<string> =>
  new Set(
    [...text.matchAll(/tributary_[a-z_]+/g)].map(([name]) =>
      name.replace(/_(bucket|count|sum)$/, ''),
    ),
  );

describe('deploy/ for Prometheus users', () => {
  it('the alerting rules pass promtool check rules', () => {
    const result = promtool('check', 'rules', 'alerts.yml');
    expect(result.output).toContain('SUCCESS: 10 rules found');
    expect(result.status).toBe(0);
  });

  it('every alert fires on its unit-test series and stays quiet otherwise (promtool test rules)', () => {
    const result = promtool('test', 'rules', 'alerts.test.yml');
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('the example configuration passes promtool check config', () => {
    const result = promtool('check', 'config', 'prometheus.yml');
    expect(result.status).toBe(0);
  });

  it('the rules and the dashboard only query metrics that @tributary/metrics exports', async () => {
    const exported = await exportedMetricNames();
    const alerts = await readFile(`${deploy}prometheus/alerts.yml`, 'utf8');
    const dashboardText = await readFile(`${deploy}grafana/tributary-dashboard.json`, 'utf8');
    const dashboard = JSON.parse(dashboardText) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const expressions = dashboard.panels.flatMap((panel) => panel.targets ?? []);
    expect(expressions.length).toBeGreaterThan(10);
    const referenced = new Set([...referencedMetrics(alerts), ...referencedMetrics(dashboardText)]);
    expect([...referenced].filter((name) => !exported.has(name))).toEqual([]);
    // Every metric of the issue is on the dashboard.
    expect([...exported].filter((name) => !referencedMetrics(dashboardText).has(name))).toEqual([]);
  });
});
