import { randomUUID } from 'node:crypto';
import {
  KafkaIndeterminateError,
  type KafkaAdmin,
  type KafkaClient,
  type KafkaConsumer,
  type KafkaConsumerOptions,
  type KafkaProducer,
  type KafkaProducerOptions,
  type KafkaReadOptions,
  type KafkaRecord,
  type KafkaSecurityOptions,
  type Logger,
} from '@tributary/core';
import { Consumer, FetchIsolationLevels } from '@platformatic/kafka';
import { PlatformaticAdmin } from './admin.js';
import { PlatformaticConsumer } from './consumer.js';
import { requestError } from './errors.js';
import { exponentialDelay, type ConnectionSettings } from './internal/connection.js';
import { planFetches } from './internal/fetch-plan.js';
import { platformaticSecurity } from './internal/security.js';
import { TlsRequiredDetector } from './internal/tls-required.js';
import { CommittedRecordCollector } from './internal/read-committed.js';
import { PlatformaticProducer } from './producer.js';

/** Options of {@link createPlatformaticKafkaClient}. */
export interface PlatformaticKafkaClientOptions extends KafkaSecurityOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** Client id (no whitespace). Default `tributary`. */
  readonly clientId?: string;
  /** Use TLS with Node's public CAs; the same as `tls: true`. Default `false`. */
  readonly ssl?: boolean;
  /**
   * Receives what the client does in the background (rejoins, fetch and handler retries) as
   * debug lines. Default: silent.
   */
  readonly logger?: Logger;
  /** Retries of admin and consumer requests. Default 100 ms first delay, 5 retries. */
  readonly retry?: { readonly initialMs?: number; readonly retries?: number };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class PlatformaticKafkaClient implements KafkaClient {
  readonly #connection: ConnectionSettings;

  constructor(options: PlatformaticKafkaClientOptions) {
    const clientId = options.clientId ?? 'tributary';
    if (!/^\S+$/.test(clientId)) {
      throw new TypeError(`Kafka client id "${clientId}" must not be empty or contain whitespace`);
    }
    const security = platformaticSecurity(options);
    const tlsRequired = new TlsRequiredDetector(security.tls, options.brokers);
    const retryDelay = exponentialDelay(options.retry?.initialMs ?? 100, 5_000);
    this.#connection = {
      base: {
        clientId,
        bootstrapBrokers: [...options.brokers],
        ...security,
        retries: options.retry?.retries ?? 5,
        retryDelay: (client, operation, attempt) => {
          tlsRequired.noticeRetry();
          return retryDelay(client, operation, attempt);
        },
      },
      logger: options.logger,
      tlsRequired,
    };
  }

  producer(options: KafkaProducerOptions = {}): KafkaProducer {
    return new PlatformaticProducer(this.#connection, options);
  }

  consumer(options: KafkaConsumerOptions): KafkaConsumer {
    return new PlatformaticConsumer(this.#connection, options);
  }

  admin(): KafkaAdmin {
    return new PlatformaticAdmin(this.#connection);
  }

  async readCommitted(
    topic: string,
    onRecord: (record: KafkaRecord) => void,
    options: KafkaReadOptions = {},
  ): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const admin = this.admin();
    await admin.connect();
    const positions = new Map<number, bigint>();
    const targets = new Map<number, bigint>();
    const collectors = new Map<number, CommittedRecordCollector>();
    try {
      // Up to the high watermark, not the last stable offset: another producer's open
      // transaction must not hide what was committed after it (see CommittedRecordCollector).
      for (const offsets of await admin.fetchOffsets(topic)) {
        if (offsets.highWatermark > offsets.earliest) {
          targets.set(offsets.partition, offsets.highWatermark);
          positions.set(offsets.partition, offsets.earliest);
          collectors.set(
            offsets.partition,
            new CommittedRecordCollector(topic, offsets.partition, offsets.highWatermark),
          );
        }
      }
    } finally {
      await admin.disconnect();
    }
    if (targets.size === 0) return;
    // Fetches without joining a group: the group id is required by the library, never used.
    const consumer = new Consumer({
      ...this.#connection.base,
      groupId: `tributary.read-committed.${randomUUID()}`,
      autocommit: false,
      isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
      maxWaitTime: 100,
    });
    try {
      for (;;) {
        const open = [...targets].filter(
          ([partition, end]) => (positions.get(partition) ?? 0n) < end,
        );
        if (open.length === 0) return;
        if (Date.now() > deadline) {
          throw new KafkaIndeterminateError(
            `reading ${topic} did not finish within ${timeoutMs} ms`,
          );
        }
        const metadata = await consumer.metadata({ topics: [topic] }).catch((error: unknown) => {
          throw requestError(error, `reading ${topic}`);
        });
        const { byLeader } = planFetches(
          open.map(([partition]) => ({ topic, partition, offset: positions.get(partition) ?? 0n })),
          metadata,
          1_048_576,
        );
        let progressed = false;
        for (const [node, topics] of byLeader) {
          const response = await consumer.fetch({ node, topics }).catch((error: unknown) => {
            throw requestError(error, `reading ${topic}`);
          });
          for (const fetched of response.responses.flatMap((found) => found.partitions)) {
            const partition = fetched.partitionIndex;
            const fetchOffset = positions.get(partition) ?? 0n;
            const collector = collectors.get(partition);
            if (collector === undefined) continue;
            const decided = collector.add(fetchOffset, fetched.records ?? []);
            for (const record of decided.committed) onRecord(record);
            if (decided.lastOffset >= fetchOffset) {
              positions.set(partition, decided.lastOffset + 1n);
              progressed = true;
            }
          }
        }
        if (!progressed) await sleep(20);
      }
    } finally {
      await consumer.close().catch(() => undefined);
    }
  }
}

/**
 * A {@link KafkaClient} on @platformatic/kafka 1.x (pure JavaScript, Node ≥ 20.19). Producers
 * are idempotent with one request in flight, retry a few milliseconds after
 * CONCURRENT_TRANSACTIONS and give up after a bounded number of retries, and partition keys
 * like the Java client and kafkajs; consumers read `read_committed` with their own fetch
 * loop; fencing errors become `KafkaProducerFencedError`, other producer failures
 * `KafkaIndeterminateError`.
 */
export function createPlatformaticKafkaClient(
  options: PlatformaticKafkaClientOptions,
): KafkaClient {
  return new PlatformaticKafkaClient(options);
}
