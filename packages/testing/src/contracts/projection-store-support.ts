import { envelopeHeaders } from '@tributary/core';
import { counterEnvelope } from '../fixtures/counter-events.js';
import {
  resolveProjectionRuntimeConfig,
  validateProjection,
  type AnyProjection,
  type AppliedProjection,
  type PoisonPolicy,
  type ProjectedEvent,
  type SourceRecord,
} from '@tributary/projections';

/** What a contract test may set on its projection. */
export interface ContractProjectionOverrides {
  readonly name?: string;
  readonly version?: number;
  readonly poison?: PoisonPolicy;
}

/** A projection of the contract suite: no tables, handlers that record what they saw. */
export type ContractProjection<Context> = AnyProjection & AppliedProjection<Context>;

let projections = 0;

/** A fresh projection name, so tests share the store but not their rows. */
export const freshProjectionName = (): string => {
  projections += 1;
  return `contract_${projections}_${Math.random().toString(36).slice(2, 8)}`;
};

/** A projection of `Counter` events whose `Incremented` handler is `handle`. */
export function contractProjection<Context>(
  handle: (event: ProjectedEvent) => Promise<void> | void,
  overrides: ContractProjectionOverrides = {},
): ContractProjection<Context> {
  const projection = {
    name: overrides.name ?? freshProjectionName(),
    version: overrides.version ?? 1,
    aggregateTypes: ['Counter'],
    tables: [],
    migrations: [],
    handlers: { Incremented: handle },
    ...(overrides.poison === undefined ? {} : { poison: overrides.poison }),
  };
  validateProjection(projection);
  return projection;
}

/** A record of a `Counter` event, as the applier is fed it. */
export function counterRecord(
  counterId: string,
  version: number,
  offset: number,
  options: { readonly partition?: number; readonly payload?: unknown } = {},
): SourceRecord {
  const envelope = counterEnvelope(counterId, version, {
    payload: options.payload ?? { by: 1 },
    occurredAt: new Date(0),
  });
  return {
    topic: 'events.Counter',
    partition: options.partition ?? 0,
    offset,
    key: counterId,
    value: new TextEncoder().encode(JSON.stringify(envelope.payload)),
    headers: envelopeHeaders(envelope),
  };
}

/** Fast retries: the suite tests bookkeeping, not backoff. */
export const contractConfig = resolveProjectionRuntimeConfig({
  retry: { retries: 1, initialDelayMs: 1, maxDelayMs: 1 },
});
