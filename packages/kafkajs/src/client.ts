// First: it must patch kafkajs's grouping before anything loads kafkajs's producer.
import { linearGroupingInstalled } from './internal/kafkajs-linear-grouping.js';
// Patches kafkajs's prototypes when evaluated (kafkajs-transaction-coordinator.ts).
import './internal/kafkajs-transaction-coordinator.js';
import {
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
import { Kafka, logLevel } from 'kafkajs';
import { KafkajsAdmin } from './admin.js';
import { readCommittedRecords } from './committed-reader.js';
import { KafkajsConsumer } from './consumer.js';
import { deadConnectionSocketFactory } from './internal/dead-connection-socket.js';
import { installFastProduceRequest } from './internal/kafkajs-produce-request.js';
import { installFastRecordEncoder } from './internal/kafkajs-record-encoder.js';
import { kafkajsSecurity } from './internal/security.js';
import { tlsRequiredCheck, type ConnectFailureCheck } from './internal/tls-required.js';
import { KafkajsProducer } from './producer.js';

/** Options of {@link createKafkajsClient}. */
export interface KafkajsClientOptions extends KafkaSecurityOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** Client id. Default `tributary`. */
  readonly clientId?: string;
  /** Use TLS with Node's public CAs; the same as `tls: true`. Default `false`. */
  readonly ssl?: boolean;
  /**
   * Receives kafkajs's warnings and errors as debug lines: kafkajs logs every retry as an
   * error, and Tributary reports what matters itself. Default: silent.
   */
  readonly logger?: Logger;
  /** Retries of admin and consumer requests. Default 100 ms first delay, 5 retries. */
  readonly retry?: { readonly initialMs?: number; readonly retries?: number };
  /**
   * Replace kafkajs's record encoder with a byte-identical one that allocates once per
   * record (2–2.5× the produce rate with Tributary's headers), and its Produce request
   * encoder with a byte-identical one that allocates each request once at its exact size
   * instead of nine doubling zero-filled buffers. Default `true`.
   */
  readonly fastRecordEncoder?: boolean;
  /**
   * A connection on which a request got no byte back for this long is closed and dialled
   * again: kafkajs alone would keep writing into a half-open connection forever. Default
   * 30 000 ms (kafkajs's request timeout, which bounds every legitimate wait).
   */
  readonly deadConnectionTimeoutMs?: number;
}

class KafkajsClient implements KafkaClient {
  readonly #kafka: Kafka;
  readonly #fastEncoder: boolean;
  readonly #checkConnect: ConnectFailureCheck;

  constructor(options: KafkajsClientOptions) {
    const logger = options.logger;
    // Before the first produce request: kafkajs loads its record encoder lazily with it.
    const fast = (options.fastRecordEncoder ?? true) && installFastRecordEncoder();
    if (!linearGroupingInstalled) {
      logger?.debug(
        'kafkajs producer loaded before @tributary/kafkajs; its quadratic grouping stays',
      );
    }
    if (fast && !installFastProduceRequest()) {
      logger?.debug('kafkajs produce request already loaded; the fast request encoder is not used');
    }
    if ((options.fastRecordEncoder ?? true) && !fast) {
      logger?.debug('kafkajs record encoder already loaded; the fast encoder is not used');
    }
    this.#fastEncoder = fast;
    const { ssl, sasl } = kafkajsSecurity(options);
    this.#checkConnect = tlsRequiredCheck(ssl !== false, options.brokers);
    this.#kafka = new Kafka({
      clientId: options.clientId ?? 'tributary',
      brokers: [...options.brokers],
      ssl,
      ...(sasl === undefined ? {} : { sasl }),
      socketFactory: deadConnectionSocketFactory(options.deadConnectionTimeoutMs ?? 30_000),
      logLevel: logger === undefined ? logLevel.NOTHING : logLevel.WARN,
      ...(logger === undefined
        ? {}
        : {
            logCreator:
              () =>
              ({ level, log }) => {
                const { message, ...rest } = log;
                logger.debug(`kafkajs: ${message}`, { ...rest, kafkaLevel: level });
              },
          }),
      retry: {
        initialRetryTime: options.retry?.initialMs ?? 100,
        retries: options.retry?.retries ?? 5,
      },
    });
  }

  producer(options: KafkaProducerOptions = {}): KafkaProducer {
    return new KafkajsProducer(this.#kafka, options, () => this.#fastEncoder, this.#checkConnect);
  }

  consumer(options: KafkaConsumerOptions): KafkaConsumer {
    return new KafkajsConsumer(this.#kafka, options, this.#checkConnect);
  }

  admin(): KafkaAdmin {
    return new KafkajsAdmin(this.#kafka, this.#checkConnect);
  }

  readCommitted(
    topic: string,
    onRecord: (record: KafkaRecord) => void,
    options: KafkaReadOptions = {},
  ): Promise<void> {
    return readCommittedRecords(this.#kafka, topic, onRecord, options, this.#checkConnect);
  }
}

/**
 * A {@link KafkaClient} on kafkajs 2.2.4. Producers are idempotent with one request in
 * flight, retry a few milliseconds after CONCURRENT_TRANSACTIONS and give up after a
 * bounded number of retries; consumers read `read_committed`; fencing errors (including
 * PRODUCER_FENCED, error code 90, which kafkajs does not name) become
 * `KafkaProducerFencedError`.
 */
export function createKafkajsClient(options: KafkajsClientOptions): KafkaClient {
  return new KafkajsClient(options);
}
