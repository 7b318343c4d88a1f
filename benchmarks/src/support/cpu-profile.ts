/**
 * Summary of a V8 CPU profile (`.cpuprofile`) for the benchmarks: busy time by capture
 * stage, by package and by function.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** The package (or V8 bucket) a frame belongs to. */
function packageOf(functionName: string, url: string): string {
  if (url === '') {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(program)') return '(program)';
    return '(native/V8)';
  }
  if (url.includes('/node_modules/')) {
    return /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? 'node_modules';
  }
  if (url.startsWith('node:')) return 'node core';
  if (url.includes('/packages/')) return `tributary ${/packages\/([^/]+)/.exec(url)?.[1] ?? ''}`;
  return basename(url);
}

/**
 * The capture stage a frame's code belongs to, `undefined` for code that serves every stage
 * (node core, V8 built-ins): their time is charged to the nearest caller that has a stage.
 */
function stageOf(pkg: string, url: string): string | undefined {
  const file = basename(url);
  if (pkg === 'pg-logical-replication' || pkg === 'pg' || pkg === 'pg-protocol') {
    return 'pgoutput decode (pg, pg-logical-replication)';
  }
  if (file.startsWith('pgoutput-') || file.startsWith('postgres-change-source')) {
    return 'pgoutput decode (pg, pg-logical-replication)';
  }
  if (file.startsWith('router') || file.startsWith('record-format') || file === 'validation.ts') {
    return 'routing (router, envelope headers)';
  }
  if (file.startsWith('checkpoint')) return 'checkpoint';
  if (file.startsWith('pipeline') || file.startsWith('capturer')) return 'pipeline (batching)';
  if (file.startsWith('kafka-sink') || file.startsWith('record-limits')) {
    return 'Kafka sink (partitioning, chunking)';
  }
  if (file.startsWith('kafkajs-record-encoder') || file.startsWith('records')) {
    return 'record encoding (port → client)';
  }
  if (
    pkg === 'kafkajs' ||
    pkg.startsWith('@platformatic/') ||
    pkg.startsWith('tributary kafkajs')
  ) {
    return 'Kafka client protocol';
  }
  if (pkg === 'tributary platformatic-kafka') return 'Kafka client protocol';
  if (pkg === '(gc)') return 'garbage collection';
  if (pkg === '(idle)') return '(idle)';
  if (pkg === 'tsx' || pkg === 'esbuild') return 'module loading (tsx)';
  if (pkg === 'node core' || pkg === '(native/V8)' || pkg === '(program)') return undefined;
  return `other (${pkg})`;
}

const percent = (hits: number, total: number): string =>
  `${((hits / Math.max(1, total)) * 100).toFixed(1).padStart(5)} %`;

/** Busy time by stage, by package and by function (self time) of a .cpuprofile. */
export function summarizeProfile(file: string): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    startTime: number;
    endTime: number;
    samples: number[];
  };
  const perSampleMs =
    (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const parent = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node);
  }
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const byStage = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, hits: number): void => {
    map.set(key, (map.get(key) ?? 0) + hits);
  };
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const { url, functionName, lineNumber } = node.callFrame;
    const pkg = packageOf(functionName, url);
    if (pkg === '(idle)') {
      idle += hits;
      continue;
    }
    add(byPackage, pkg, hits);
    add(
      byFunction,
      `${functionName || '(anonymous)'} ${url === '' ? '' : `${basename(url)}:${lineNumber + 1}`}`,
      hits,
    );
    let stage = stageOf(pkg, url);
    for (
      let up = parent.get(node.id);
      stage === undefined && up !== undefined;
      up = parent.get(up.id)
    ) {
      stage = stageOf(packageOf(up.callFrame.functionName, up.callFrame.url), up.callFrame.url);
    }
    add(byStage, stage ?? 'node core / V8, no caller of ours (I/O callbacks, timers)', hits);
  }
  const busy = total - idle;
  const lines = [
    `  ${total} samples over ${((total * perSampleMs) / 1000).toFixed(1)} s, busy ${((busy * perSampleMs) / 1000).toFixed(1)} s (${percent(busy, total).trim()}); shares below are of the busy time`,
  ];
  const top = (title: string, map: Map<string, number>, count: number): void => {
    lines.push(`  ${title}:`);
    for (const [name, hits] of [...map].sort((a, b) => b[1] - a[1]).slice(0, count)) {
      lines.push(`    ${percent(hits, busy)}  ${name}`);
    }
  };
  top('by stage (node core and V8 time charged to the nearest caller of ours)', byStage, 12);
  top('self time by package', byPackage, 10);
  top('top functions (self time)', byFunction, 15);
  return lines;
}
