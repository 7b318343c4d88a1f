import type { Knex } from 'knex';
import type { KafkaClient } from '@tributary/core';
import { typedRows } from '../internal/sql.js';

/** Rows of the applications table that break exactly-once or per-aggregate order. */
export interface ApplicationReport {
  readonly events: number;
  /** Events applied more than once (applied > 1). */
  readonly duplicates: number;
  /** Counters whose versions, in application order, are not 1, 2, 3… */
  readonly outOfOrder: string[];
}

/** Checks the applications read model of the counter projection. */
export async function applicationReport(
  knex: Knex,
  readModelSchema: string,
): Promise<ApplicationReport> {
  const rows = (await knex(`${readModelSchema}.applications_v1`)
    .select('counter_id', 'aggregate_version', 'applied')
    .orderBy('seq')) as { counter_id: string; aggregate_version: number; applied: number }[];
  const next = new Map<string, number>();
  const outOfOrder = new Set<string>();
  let duplicates = 0;
  for (const row of rows) {
    if (row.applied !== 1) duplicates += 1;
    const expected = (next.get(row.counter_id) ?? 0) + 1;
    if (row.aggregate_version !== expected) outOfOrder.add(row.counter_id);
    next.set(row.counter_id, row.aggregate_version);
  }
  return { events: rows.length, duplicates, outOfOrder: [...outOfOrder] };
}

/** Sum of the stored checkpoints, and of the topic's end offsets. */
export async function progress(
  knex: Knex,
  kafka: KafkaClient,
  runtimeSchema: string,
  topic: string,
): Promise<{ stored: number; end: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets(topic);
    const end = offsets.reduce((sum, offset) => sum + Number(offset.lastStableOffset), 0);
    const hasTable = await knex.schema.withSchema(runtimeSchema).hasTable('projection_checkpoints');
    if (!hasTable) return { stored: 0, end };
    const [row] = await typedRows<{ stored: string | null }>(
      knex(`${runtimeSchema}.projection_checkpoints`).sum({ stored: 'next_offset' }),
    );
    return { stored: Number(row?.stored ?? 0), end };
  } finally {
    await admin.disconnect();
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}
