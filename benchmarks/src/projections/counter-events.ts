import { uuidV7 } from '@tributary/core';
import { recordOf } from '@tributary/testing';
import type { Kafka } from 'kafkajs';

/** Shape of the benchmark's input. */
export interface CounterEventsOptions {
  /** Distinct counters (aggregates), `c0`, `c1`, …. */
  readonly counters: number;
  /** Events per counter, versions 1…versions. */
  readonly versions: number;
  /** Records per Kafka transaction. */
  readonly transactionSize: number;
  readonly transactionalId: string;
}

/**
 * Fills `topic` with `Counter/Incremented` events, versions interleaved across counters,
 * in Kafka transactions as the capturer writes them (records built by `recordOf`, the
 * capturer's record shape). Returns how many were produced.
 */
export async function produceCounterEvents(
  kafka: Kafka,
  topic: string,
  options: CounterEventsOptions,
): Promise<number> {
  const producer = kafka.producer({
    transactionalId: options.transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  let produced = 0;
  try {
    const total = options.counters * options.versions;
    for (let first = 0; first < total; first += options.transactionSize) {
      const messages = [];
      for (let index = first; index < Math.min(total, first + options.transactionSize); index++) {
        const record = recordOf({
          eventId: uuidV7(),
          aggregateType: 'Counter',
          aggregateId: `c${index % options.counters}`,
          aggregateVersion: 1 + Math.floor(index / options.counters),
          eventType: 'Incremented',
          schemaVersion: 1,
          payload: { by: 1 },
          metadata: {},
          occurredAt: new Date().toISOString(),
        });
        messages.push({
          key: record.key ?? null,
          value: Buffer.from(record.value ?? []),
          headers: { ...record.headers },
        });
      }
      const transaction = await producer.transaction();
      await transaction.send({ topic, messages });
      await transaction.commit();
      produced += messages.length;
    }
  } finally {
    await producer.disconnect();
  }
  return produced;
}
