/** Summary of a `node --cpu-prof` profile for the benchmarks: self time by package and by function. */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time per package and per function of a .cpuprofile. */
export function summarizeProfile(file: string): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    startTime: number;
    endTime: number;
    samples: number[];
  };
  const perSample =
    (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const total = profile.samples.length;
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { url, functionName, lineNumber } = node.callFrame;
    const pkg =
      url === ''
        ? functionName === '(idle)'
          ? '(idle)'
          : functionName === '(garbage collector)'
            ? '(gc)'
            : '(native/V8)'
        : url.includes('/node_modules/')
          ? (/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? 'node_modules')
          : url.startsWith('node:')
            ? 'node core'
            : url.includes('/packages/')
              ? `tributary ${/packages\/([^/]+)/.exec(url)?.[1] ?? ''}`
              : basename(url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
    const name = `${functionName || '(anonymous)'} ${url === '' ? '' : `${basename(url)}:${lineNumber + 1}`}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  const lines = [`  ${total} samples, ${((total * perSample) / 1000).toFixed(1)} s`];
  lines.push('  self time by package:');
  for (const [name, hits] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
    lines.push(`    ${((hits / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
  lines.push('  top functions (self time):');
  for (const [name, hits] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    lines.push(`    ${((hits / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
  return lines;
}
