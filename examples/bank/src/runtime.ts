import { CommandBus, type EventStore, registerTributary, type RetryOptions } from '@tributary/core';
import { InMemoryEventStore } from '@tributary/testing';
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
  const eventStore = new InMemoryEventStore();
  const container = rootContainer.createChildContainer();
  registerTributary(container, {
    eventStore,
    aggregates: bankAggregates,
    upcasters: bankUpcasters,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  });
  return {
    kind: 'in-memory',
    eventStore,
    bus: container.resolve(CommandBus),
    bank: container.resolve(BankService),
    close: () => Promise.resolve(),
  };
}

/**
 * Creates the runtime of `kind`.
 *
 * @throws RuntimeUnavailableError for `stack`: it needs the Postgres event store (issue #4).
 */
export function createRuntime(kind: RuntimeKind, options: InMemoryRuntimeOptions = {}): Runtime {
  switch (kind) {
    case 'in-memory':
      return createInMemoryRuntime(options);
    case 'stack':
      throw new RuntimeUnavailableError(
        'stack',
        'the real-stack mode (PostgreSQL outbox → WAL capture → Kafka → projections) arrives with the Postgres event store (issue #4). Run without --stack / TRIBUTARY_RUNTIME=stack to use the in-memory runtime.',
      );
  }
}
