import { startJsonLineChild, type JsonLineChild } from '@tributary/testing';

/** One line a reactor child printed. */
export interface ChildLine {
  readonly pid: number;
  readonly at: number;
  readonly event: 'started' | 'committed' | 'stopped' | 'failed';
  readonly applied?: number;
  readonly error?: string;
}

/** A running reactor child process and what it printed. */
export type Child = JsonLineChild<ChildLine>;

/** Starts a TypeScript module of this folder as a child process (through tsx, on the sources). */
export function startChild(script: string, env: Record<string, string>): Child {
  return startJsonLineChild<ChildLine>(new URL(`./${script}`, import.meta.url), env);
}

/** Sleeps. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
