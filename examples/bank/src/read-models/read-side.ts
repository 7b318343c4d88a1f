import type { UpcasterChain } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import {
  createProjectionRuntime,
  projectionStatus,
  readModelViews,
  type ProjectionRuntime,
} from '@tributary/projections';
import {
  createPgliteKnex,
  InMemoryKafkaLog,
  InMemoryProjectionRuntime,
  relayEventsToLog,
  type InMemoryEventStore,
} from '@tributary/testing';
import type { Knex } from 'knex';
import knexFactory from 'knex';
import {
  accountBalancesProjection,
  bankProjections,
  eventApplicationsProjection,
  transferListProjection,
} from './projections.js';

/** A row of the account balances read model. */
export interface AccountBalanceRow {
  readonly accountId: string;
  readonly ownerName: string;
  readonly currency: string;
  readonly balanceCents: number;
  readonly status: string;
  readonly version: number;
}

/** A row of the transfer list read model. */
export interface TransferRow {
  readonly transferId: string;
  readonly sourceAccountId: string;
  readonly targetAccountId: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly status: string;
  readonly failureReason: string | null;
}

/** How often events were applied: every count must be 1. */
export interface ApplicationCounts {
  readonly events: number;
  readonly appliedOnce: number;
  readonly appliedMoreThanOnce: number;
}

/** One Kafka partition the events travelled through, as the projections consumed it. */
export interface TransportPartition {
  readonly topic: string;
  readonly partition: number;
  /** End offset (high watermark): records plus transaction markers written to the partition. */
  readonly endOffset: number;
  /** The projection checkpoint: next offset to apply. */
  readonly storedOffset: number | null;
}

/** The bank's read side: projections feeding read models, and the queries on them. */
export interface ReadSide {
  /** The Kafka partitions the events arrived in (real stack only). */
  transport?(): Promise<TransportPartition[]>;
  /** Waits until every event stored so far is in the read models. */
  catchUp(timeoutMs?: number): Promise<void>;
  balances(): Promise<AccountBalanceRow[]>;
  transfers(): Promise<TransferRow[]>;
  applications(): Promise<ApplicationCounts>;
  close(): Promise<void>;
}

/** Queries on the reader views, whatever the database. */
function queries(
  knex: Knex,
  schema: string,
): Pick<ReadSide, 'balances' | 'transfers' | 'applications'> {
  const views = {
    ...readModelViews(accountBalancesProjection, schema),
    ...readModelViews(transferListProjection, schema),
    ...readModelViews(eventApplicationsProjection, schema),
  };
  return {
    async balances() {
      const rows = (await knex(views.account_balances).select('*').orderBy('account_id')) as Record<
        string,
        unknown
      >[];
      return rows.map((row) => ({
        accountId: String(row['account_id']),
        ownerName: String(row['owner_name']),
        currency: String(row['currency']),
        balanceCents: Number(row['balance_cents']),
        status: String(row['status']),
        version: Number(row['version']),
      }));
    },
    async transfers() {
      const rows = (await knex(views.transfers).select('*').orderBy('transfer_id')) as Record<
        string,
        unknown
      >[];
      return rows.map((row) => ({
        transferId: String(row['transfer_id']),
        sourceAccountId: String(row['source_account_id']),
        targetAccountId: String(row['target_account_id']),
        amountCents: Number(row['amount_cents']),
        currency: String(row['currency']),
        status: String(row['status']),
        failureReason: typeof row['failure_reason'] === 'string' ? row['failure_reason'] : null,
      }));
    },
    async applications() {
      const rows: { applications: number }[] = await knex(views.event_applications).select(
        'applications',
      );
      return {
        events: rows.length,
        appliedOnce: rows.filter((row) => Number(row.applications) === 1).length,
        appliedMoreThanOnce: rows.filter((row) => Number(row.applications) > 1).length,
      };
    },
  };
}

/**
 * The read side in memory: appends are relayed to an in-memory Kafka-like log (as the
 * capturer would publish them) and projected by the in-memory runtime into PGlite, an
 * embedded PostgreSQL, with the same projection code as production.
 */
export async function createInMemoryReadSide(
  eventStore: InMemoryEventStore,
  upcasters: UpcasterChain,
): Promise<ReadSide> {
  const database = await createPgliteKnex();
  const log = new InMemoryKafkaLog();
  for (const aggregateType of ['Account', 'Transfer']) {
    log.createTopic(`events.${aggregateType}`, { partitions: 3 });
  }
  const relay = relayEventsToLog(eventStore, log, { partitions: 3 });
  const runtime = new InMemoryProjectionRuntime({
    log,
    knex: database.knex,
    projections: bankProjections,
    upcasters,
  });
  await runtime.start();
  return {
    ...queries(database.knex, runtime.store.config.readModelSchema),
    async catchUp() {
      await relay.flush();
      await runtime.runUntilIdle();
    },
    async close() {
      await relay.stop();
      await runtime.stop();
      await database.close();
    },
  };
}

/** Options of {@link createKafkaReadSide}. */
export interface KafkaReadSideOptions {
  readonly databaseUrl: string;
  readonly brokers: readonly string[];
  /** Schema of the runtime tables; read models go to `<schema>_read`. */
  readonly schema: string;
  /** Topic prefix the capturer publishes with. */
  readonly topicPrefix: string;
  readonly upcasters: UpcasterChain;
  /** How many events the read models must hold to be caught up (the outbox count). */
  readonly expectedEvents: () => Promise<number>;
}

/** The read side on the real stack: Kafka consumers (kafkajs), read models in PostgreSQL. */
export async function createKafkaReadSide(options: KafkaReadSideOptions): Promise<ReadSide> {
  const knex = knexFactory({
    client: 'pg',
    connection: options.databaseUrl,
    pool: { min: 0, max: 8 },
  });
  const readModelSchema = `${options.schema}_read`;
  const kafka = createKafkajsClient({
    clientId: 'bank-demo-projections',
    brokers: options.brokers,
  });
  const runtime: ProjectionRuntime = createProjectionRuntime({
    kafka,
    knex,
    projections: bankProjections,
    upcasters: options.upcasters,
    config: {
      schema: `${options.schema}_projections`,
      readModelSchema,
      topicPrefix: options.topicPrefix,
      groupIdPrefix: `bank.${options.schema}`,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
      // The demo starts before any event exists; the capturer creates topics with 3 partitions too.
      missingTopics: 'create',
      topicPartitions: 3,
    },
  });
  await runtime.start();
  const read = queries(knex, readModelSchema);
  return {
    ...read,
    async transport() {
      // Every partition any bank projection consumes, once, with the lowest checkpoint on it.
      const byPartition = new Map<string, TransportPartition>();
      for (const status of await projectionStatus(runtime.store, kafka, bankProjections)) {
        for (const { topic, partition, endOffset, storedOffset } of status.partitions) {
          const key = `${topic}/${partition}`;
          const seen = byPartition.get(key);
          const lowest =
            seen === undefined || (storedOffset ?? -1) < (seen.storedOffset ?? -1)
              ? storedOffset
              : seen.storedOffset;
          if (endOffset > 0)
            byPartition.set(key, { topic, partition, endOffset, storedOffset: lowest });
        }
      }
      return [...byPartition.values()].sort(
        (a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition,
      );
    },
    async catchUp(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      const expected = await options.expectedEvents();
      for (;;) {
        // Every event is in the counter read model (so the capturer published them all),
        // and every projection's checkpoints reached the end offsets (lag 0).
        if ((await read.applications()).events >= expected) {
          const statuses = await projectionStatus(runtime.store, kafka, bankProjections);
          if (statuses.every((status) => status.lag === 0)) return;
        }
        if (Date.now() > deadline)
          throw new Error(
            `read models did not catch up with ${expected} events within ${timeoutMs} ms`,
          );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async close() {
      await runtime.stop();
      await knex.destroy();
    },
  };
}
