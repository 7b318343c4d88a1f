import { CommandBus, type EventStore, registerTributary, type RetryOptions } from '@tributary/core';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';
import { InMemoryEventStore, upStack } from '@tributary/testing';
import { container as rootContainer } from 'tsyringe';
import { Account } from './account/account.js';
import { bankUpcasters } from './account/upcasters.js';
import { BankService } from './bank-service.js';
import { Transfer } from './transfer/transfer.js';

/** Every aggregate of the bank, for the command bus. */
export const bankAggregates = [Account, Transfer] as const;

/** Which infrastructure the bank runs on. */
export type RuntimeKind = 'in-memory' | 'stack';

/**
 * Everything the demo and the application service need, whatever the infrastructure: the
 * event store, the command bus and the bank service. Read models join here once the
 * projection runtime exists.
 */
export interface Runtime {
  readonly kind: RuntimeKind;
  readonly eventStore: EventStore;
  readonly bus: CommandBus;
  readonly bank: BankService;
  /** Releases connections and servers (nothing for the in-memory runtime). */
  close(): Promise<void>;
}

/**
 * Picks the runtime from the command line (`--stack`) or the environment
 * (`TRIBUTARY_RUNTIME=stack`); the in-memory runtime is the default so the demo runs on any
 * machine.
 */
export function runtimeKindFrom(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): RuntimeKind {
  return argv.includes('--stack') || env['TRIBUTARY_RUNTIME'] === 'stack' ? 'stack' : 'in-memory';
}

/** The runtime that was asked for cannot be started (yet). */
export class RuntimeUnavailableError extends Error {
  constructor(kind: RuntimeKind, reason: string) {
    super(`The ${kind} runtime is not available: ${reason}`);
    this.name = 'RuntimeUnavailableError';
  }
}

/** Options of {@link createInMemoryRuntime}. */
export interface InMemoryRuntimeOptions {
  /** Retry of the command bus on concurrency conflicts. Default: the bus's default. */
  readonly retry?: RetryOptions;
}

/**
 * The bank on an {@link InMemoryEventStore}: no servers, same validation, versioning and
 * concurrency rules as the Postgres store. Wired through a child tsyringe container, as an
 * application would be, so each runtime has its own singletons.
 */
export function createInMemoryRuntime(options: InMemoryRuntimeOptions = {}): Runtime {
  return wireRuntime('in-memory', new InMemoryEventStore(), options, () => Promise.resolve());
}

/** Registers the bank on `eventStore` in a child container and resolves bus and service. */
function wireRuntime(
  kind: RuntimeKind,
  eventStore: EventStore,
  options: InMemoryRuntimeOptions,
  close: () => Promise<void>,
): Runtime {
  const container = rootContainer.createChildContainer();
  registerTributary(container, {
    eventStore,
    aggregates: bankAggregates,
    upcasters: bankUpcasters,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  });
  return {
    kind,
    eventStore,
    bus: container.resolve(CommandBus),
    bank: container.resolve(BankService),
    close,
  };
}

/** Options of {@link createPostgresRuntime}. */
export interface PostgresRuntimeOptions extends InMemoryRuntimeOptions {
  /** Default: env `DATABASE_URL`, else the local stack (`npm run stack:up`, started if needed). */
  readonly databaseUrl?: string;
  /**
   * Schema of the outbox tables. Default: a fresh `demo_<timestamp>` schema per run, so the
   * scripted scenario (which opens fixed accounts) can run again on the same database.
   */
  readonly schema?: string;
  /** Progress lines (stack start, migrations). */
  readonly log?: (line: string) => void;
}

/**
 * The bank on PostgreSQL by configuration alone: the same aggregates, commands and bus,
 * with the {@link PostgresEventStore} (the outbox table) instead of the in-memory store.
 */
export async function createPostgresRuntime(
  options: PostgresRuntimeOptions = {},
): Promise<Runtime> {
  const log = options.log ?? (() => undefined);
  let databaseUrl = options.databaseUrl ?? process.env['DATABASE_URL'];
  if (databaseUrl === undefined || databaseUrl === '') {
    log(
      'DATABASE_URL is not set: using the local stack (npm run stack:up), starting it if needed…',
    );
    const { state, reused } = await upStack({ log });
    log(reused ? 'local stack already running' : 'local stack started');
    databaseUrl = state.databaseUrl;
    if (databaseUrl === undefined)
      throw new RuntimeUnavailableError('stack', 'the local stack reported no database URL');
  }
  const schema =
    options.schema ?? `demo_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
  const config = { schema };
  const { applied } = await migrateOutbox({ connectionString: databaseUrl, config });
  log(
    `outbox schema "${schema}" ready (${applied.length} migrations applied) on ${redact(databaseUrl)}`,
  );
  const eventStore = new PostgresEventStore({ connectionString: databaseUrl, config });
  return wireRuntime('stack', eventStore, options, () => eventStore.close());
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/** Creates the runtime of `kind`: in memory, or on PostgreSQL (the local stack by default). */
export async function createRuntime(
  kind: RuntimeKind,
  options: PostgresRuntimeOptions = {},
): Promise<Runtime> {
  switch (kind) {
    case 'in-memory':
      return createInMemoryRuntime(options);
    case 'stack':
      return createPostgresRuntime(options);
  }
}
