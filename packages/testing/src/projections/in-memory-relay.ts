import { EventHeaders, envelopeHeaders, type EventEnvelope } from '@tributary/core';
import type {
  InMemoryEventStore,
  PositionedEnvelope,
} from '../event-store/in-memory-event-store.js';
import type { InMemoryKafkaLog } from '../log/in-memory-kafka-log.js';
import type { LogMessage } from '../log/types.js';

/** Options of {@link relayEventsToLog}. */
export interface InMemoryRelayOptions {
  /** Topics are `<topicPrefix>.<AggregateType>`, as the capturer names them. Default `events`. */
  readonly topicPrefix?: string;
  /** Partitions of topics the relay creates. Default 4. */
  readonly partitions?: number;
  /**
   * Called per append with the records about to be produced; return the list to produce
   * instead (e.g. with duplicates, to simulate an at-least-once relay). Default: as is.
   */
  readonly tamper?: (
    messages: readonly (LogMessage & { topic: string })[],
  ) => (LogMessage & { topic: string })[];
}

/** A running relay. */
export interface InMemoryRelay {
  /** Resolves once every append so far is committed to the log. */
  flush(): Promise<void>;
  /** Stops relaying (after the pending transactions). */
  stop(): Promise<void>;
}

/** The record the capturer would publish for an envelope, as the in-memory log takes it. */
export function recordOf(envelope: EventEnvelope, transactionSequence = 0): LogMessage {
  return {
    key: envelope.aggregateId,
    value: new TextEncoder().encode(JSON.stringify(envelope.payload)),
    headers: {
      ...envelopeHeaders(envelope),
      [EventHeaders.transactionSequence]: String(transactionSequence),
    },
  };
}

/**
 * The in-memory stand-in of the WAL capturer: every append to the {@link InMemoryEventStore}
 * becomes ONE transaction on the {@link InMemoryKafkaLog}, one record per event (key =
 * aggregate id, value = payload JSON, envelope in the headers), in append order.
 */
export function relayEventsToLog(
  store: InMemoryEventStore,
  log: InMemoryKafkaLog,
  options: InMemoryRelayOptions = {},
): InMemoryRelay {
  const prefix = options.topicPrefix ?? 'events';
  const partitions = options.partitions ?? 4;
  const producer = log.producer({
    transactionalId: `tributary-relay-${Math.random().toString(36).slice(2)}`,
  });
  // Appends are relayed strictly one after the other, as the capturer keeps commit order.
  let queue: Promise<void> = producer.connect();
  const unsubscribe = store.onAppended((events: readonly PositionedEnvelope[]) => {
    const messages = events.map(({ envelope }, index) => {
      const topic = `${prefix}.${envelope.aggregateType}`;
      if (!log.listTopics().includes(topic)) log.createTopic(topic, { partitions });
      return { ...recordOf(envelope, index), topic };
    });
    const produced = options.tamper?.(messages) ?? messages;
    queue = queue.then(async () => {
      const transaction = await producer.transaction();
      for (const { topic, ...message } of produced)
        await transaction.send({ topic, messages: [message] });
      await transaction.commit();
    });
  });
  return {
    flush: () => queue,
    async stop() {
      unsubscribe();
      await queue;
      await producer.disconnect();
    },
  };
}
