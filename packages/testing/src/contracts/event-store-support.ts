/** Helpers shared by the event store contract files. Not part of the API. */
import {
  isTributaryError,
  unnumberedEventRecordSize,
  uuidV7,
  type NewEvent,
  type StreamRef,
} from '@tributary/core';
import { expect } from 'vitest';

let streamCounter = 0;
/** A stream no other test touches, so the suite can share one store. */
export function freshStream(aggregateType = 'Account'): StreamRef {
  streamCounter += 1;
  return { aggregateType, aggregateId: `acc-${streamCounter}-${uuidV7().slice(-8)}` };
}

export const opened = (owner = 'Ann'): NewEvent => ({ type: 'AccountOpened', data: { owner } });
export const deposited = (amount: number): NewEvent => ({
  type: 'MoneyDeposited',
  data: { amount },
});

/**
 * An event whose Kafka record, as the stores bound it at append, is exactly `targetBytes`.
 * The string length is corrected until the varints settle.
 */
export function eventOfRecordSize(stream: StreamRef, targetBytes: number): NewEvent {
  const eventId = uuidV7();
  const occurredAt = '2026-01-02T03:04:05.678Z';
  let length = 1_000;
  for (;;) {
    const payload = { text: 'x'.repeat(length) };
    const { totalBytes } = unnumberedEventRecordSize({
      eventId,
      ...stream,
      eventType: 'Sized',
      schemaVersion: 1,
      payload,
      metadata: {},
      occurredAt,
    });
    if (totalBytes === targetBytes) return { eventId, type: 'Sized', data: payload, occurredAt };
    length += targetBytes - totalBytes;
  }
}

export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `expected an error with code ${code}`).toBeDefined();
  expect(isTributaryError(error, code), `expected code ${code}, got ${String(error)}`).toBe(true);
}
