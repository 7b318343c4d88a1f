import {
  CommandBus,
  type AnyAggregate,
  type CommandBusOptions,
  type UpcasterChain,
} from '@tributary/core';
import type { AnyProjection } from '@tributary/projections';
import type { AnyReactor, ReactorContextServices } from '@tributary/reactors';
import type { Knex } from 'knex';
import { InMemoryEventStore } from '../event-store/in-memory-event-store.js';
import { InMemoryKafkaLog } from '../log/in-memory-kafka-log.js';
import { InMemoryProjectionRuntime } from '../projections/in-memory-projection-runtime.js';
import { relayEventsToLog, type InMemoryRelay } from '../projections/in-memory-relay.js';
import { createPgliteKnex } from '../projections/pglite.js';
import { InMemoryReactorRuntime } from './in-memory-reactor-runtime.js';

/** One service of a {@link WholeFlow}: its aggregates, reactors and projections. */
export interface FlowServiceDefinition {
  /** Lower-case identifier; names the service's schemas. */
  readonly name: string;
  readonly aggregates: readonly AnyAggregate[];
  readonly reactors?: readonly AnyReactor[];
  readonly projections?: readonly AnyProjection[];
  readonly upcasters?: UpcasterChain;
  readonly commandBus?: Omit<CommandBusOptions, 'eventStore' | 'aggregates'>;
}

/** A running service of the flow. */
export interface FlowService {
  readonly name: string;
  /** Its own event store (nothing else appends to it). */
  readonly eventStore: InMemoryEventStore;
  /** Its own command bus. */
  readonly bus: CommandBus;
  readonly reactors: InMemoryReactorRuntime;
  readonly projections: InMemoryProjectionRuntime | undefined;
}

/** Options of {@link createWholeFlow}. */
export interface WholeFlowOptions {
  readonly services: readonly FlowServiceDefinition[];
  /** Start of the flow's clock (deadlines). Default `2026-01-01T00:00:00.000Z`. */
  readonly startAt?: Date;
  /** Database of checkpoints, state, deadlines and read models. Default: a new PGlite. */
  readonly knex?: Knex;
  /** Runs or records external effects. Default: runs them. */
  readonly effects?: ReactorContextServices['effects'];
}

/** Several services connected only by the in-memory Kafka log, driven step by step. */
export interface WholeFlow {
  readonly log: InMemoryKafkaLog;
  /** The service by name. @throws Error for an unknown name. */
  service(name: string): FlowService;
  /** The flow's clock. */
  now(): Date;
  /**
   * Relays every service's new events to the log and runs reactors, due deadlines and
   * projections until nothing moves any more. Returns how many events reactors handled.
   */
  runUntilIdle(): Promise<number>;
  /** Moves the clock forward, then runs until idle (due deadlines execute). */
  advanceTime(ms: number): Promise<void>;
  /** Stops the runtimes and relays (and closes the PGlite it created). */
  close(): Promise<void>;
}

/**
 * The whole-flow harness: each service has its own event store, command bus, reactor runtime
 * and (optional) projections, in its own schemas; the only thing they share is the Kafka
 * log, as in production. Deterministic: nothing runs until `runUntilIdle` / `advanceTime`.
 */
export async function createWholeFlow(options: WholeFlowOptions): Promise<WholeFlow> {
  const created = options.knex === undefined ? await createPgliteKnex() : undefined;
  const knex = options.knex ?? (created as { knex: Knex }).knex;
  const log = new InMemoryKafkaLog();
  let now = (options.startAt ?? new Date('2026-01-01T00:00:00.000Z')).getTime();
  const clock = (): Date => new Date(now);
  const services = new Map<string, FlowService>();
  const relays: InMemoryRelay[] = [];
  for (const definition of options.services) {
    const eventStore = new InMemoryEventStore({ clock });
    relays.push(relayEventsToLog(eventStore, log, { partitions: 2 }));
    const busOptions = {
      ...definition.commandBus,
      ...(definition.upcasters === undefined ? {} : { upcasters: definition.upcasters }),
    };
    const bus = new CommandBus({
      ...busOptions,
      eventStore,
      aggregates: definition.aggregates,
      clock,
    });
    const reactors = new InMemoryReactorRuntime({
      log,
      knex,
      reactors: definition.reactors ?? [],
      eventStore,
      aggregates: definition.aggregates,
      commandBus: { ...busOptions, clock },
      config: { schema: `${definition.name}_reactors` },
      clock,
      ...(options.effects === undefined ? {} : { effects: options.effects }),
      ...(definition.upcasters === undefined ? {} : { upcasters: definition.upcasters }),
    });
    await reactors.start();
    let projections: InMemoryProjectionRuntime | undefined;
    if ((definition.projections ?? []).length > 0) {
      projections = new InMemoryProjectionRuntime({
        log,
        knex,
        projections: definition.projections ?? [],
        config: {
          schema: `${definition.name}_projections`,
          readModelSchema: `${definition.name}_read`,
        },
        ...(definition.upcasters === undefined ? {} : { upcasters: definition.upcasters }),
      });
      await projections.start();
    }
    services.set(definition.name, {
      name: definition.name,
      eventStore,
      bus,
      reactors,
      projections,
    });
  }
  const runUntilIdle = async (): Promise<number> => {
    let handled = 0;
    for (let round = 0; round < 1_000; round += 1) {
      let moved = 0;
      for (const relay of relays) await relay.flush();
      for (const service of services.values()) {
        const run = await service.reactors.runUntilIdle();
        const due = await service.reactors.runDueDeadlines();
        moved += run.applied + due.executed + due.failed;
        handled += run.applied;
        if (service.projections !== undefined) await service.projections.runUntilIdle();
      }
      for (const relay of relays) await relay.flush();
      if (moved === 0) return handled;
    }
    throw new Error(
      'The flow did not settle after 1,000 rounds: do reactors feed each other forever?',
    );
  };
  return {
    log,
    service(name) {
      const service = services.get(name);
      if (service === undefined) throw new Error(`Unknown service "${name}" in the flow`);
      return service;
    },
    now: clock,
    runUntilIdle,
    async advanceTime(ms) {
      now += ms;
      await runUntilIdle();
    },
    async close() {
      for (const relay of relays) await relay.stop();
      for (const service of services.values()) {
        await service.reactors.stop();
        await service.projections?.stop();
      }
      await created?.close();
    },
  };
}
