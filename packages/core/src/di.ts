import type { DependencyContainer, InjectionToken } from 'tsyringe';
import type { AnyAggregate } from './aggregate.js';
import { CommandBus, type CoreInstrumentationEvents } from './command-bus.js';
import type { EventStore } from './event-store.js';
import type { Instrumentation } from './instrumentation.js';
import { createInstrumentation } from './instrumentation.js';
import type { RetryOptions } from './retry.js';
import { JsonSerializer, type Serializer } from './serializer.js';
import { UpcasterChain } from './upcasting.js';

/**
 * Injection tokens. Tributary uses explicit tokens (`@inject(TributaryTokens.EventStore)`)
 * rather than relying on emitted decorator metadata for its own classes, so it works under
 * any compiler (esbuild and tsx drop `emitDecoratorMetadata`). Your classes may use either.
 */
export const TributaryTokens = {
  EventStore: Symbol.for('tributary.EventStore') as InjectionToken<EventStore>,
  Serializer: Symbol.for('tributary.Serializer') as InjectionToken<Serializer>,
  Upcasters: Symbol.for('tributary.Upcasters') as InjectionToken<UpcasterChain>,
  Aggregates: Symbol.for('tributary.Aggregates') as InjectionToken<readonly AnyAggregate[]>,
  Instrumentation: Symbol.for('tributary.Instrumentation') as InjectionToken<
    Instrumentation<CoreInstrumentationEvents>
  >,
} as const;

/** What {@link registerTributary} puts into a container. */
export interface TributaryRegistration {
  /** The event store instance, or the token under which one is already registered. */
  readonly eventStore: EventStore | InjectionToken<EventStore>;
  readonly aggregates: readonly AnyAggregate[];
  /** Default {@link JsonSerializer}. */
  readonly serializer?: Serializer;
  /** Default: an empty chain. */
  readonly upcasters?: UpcasterChain;
  /** Default: a fresh instrumentation with no listeners. */
  readonly instrumentation?: Instrumentation<CoreInstrumentationEvents>;
  /** Retry options of the command bus. */
  readonly retry?: RetryOptions;
}

/**
 * Registers the event store, serializer, upcasters, instrumentation and a singleton
 * {@link CommandBus} in a tsyringe container. Afterwards any injectable class can take
 * `@inject(CommandBus) bus: CommandBus` or `@inject(TributaryTokens.EventStore)`.
 *
 * @example
 * ```ts
 * import { container } from 'tsyringe';
 * registerTributary(container, { eventStore: new InMemoryEventStore(), aggregates: [Account] });
 * const bus = container.resolve(CommandBus);
 * ```
 */
export function registerTributary(
  container: DependencyContainer,
  registration: TributaryRegistration,
): void {
  const { eventStore } = registration;
  if (isEventStore(eventStore)) {
    container.register(TributaryTokens.EventStore, { useValue: eventStore });
  } else if (eventStore !== TributaryTokens.EventStore) {
    container.register(TributaryTokens.EventStore, { useToken: eventStore });
  }
  container.register(TributaryTokens.Aggregates, { useValue: registration.aggregates });
  container.register(TributaryTokens.Serializer, {
    useValue: registration.serializer ?? new JsonSerializer(),
  });
  container.register(TributaryTokens.Upcasters, {
    useValue: registration.upcasters ?? new UpcasterChain(),
  });
  container.register(TributaryTokens.Instrumentation, {
    useValue: registration.instrumentation ?? createInstrumentation<CoreInstrumentationEvents>(),
  });
  let bus: CommandBus | undefined;
  container.register(CommandBus, {
    useFactory: (c) => {
      // One bus per container: it holds no per-call state, and building the handler map once
      // is what a singleton is for.
      bus ??= new CommandBus({
        eventStore: c.resolve(TributaryTokens.EventStore),
        aggregates: c.resolve(TributaryTokens.Aggregates),
        upcasters: c.resolve(TributaryTokens.Upcasters),
        instrumentation: c.resolve(TributaryTokens.Instrumentation),
        ...(registration.retry === undefined ? {} : { retry: registration.retry }),
      });
      return bus;
    },
  });
}

function isEventStore(value: unknown): value is EventStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<EventStore>).appendToStream === 'function' &&
    typeof (value as Partial<EventStore>).readStream === 'function'
  );
}
