/**
 * Typed instrumentation: a map from namespaced event names (`command.handled`,
 * `capture.batch.committed`, …) to payload types. Payloads are built lazily, so nothing is
 * allocated when nobody listens.
 */

/** A map of instrumentation event names to payload types. */
export type InstrumentationEventMap = object;

/** A listener of one instrumentation event. */
export type InstrumentationListener<P> = (payload: P, name: string) => void;

/** Subscribe to and emit typed instrumentation events. */
export interface Instrumentation<Events extends InstrumentationEventMap> {
  /** Subscribes to one event; returns the function that unsubscribes. */
  on<K extends keyof Events & string>(
    name: K,
    listener: InstrumentationListener<Events[K]>,
  ): () => void;
  /** Whether anyone listens to `name`. */
  hasListeners(name: keyof Events & string): boolean;
  /**
   * Emits `name`. `payload` may be a function, called only when someone listens. A listener
   * that throws never breaks the instrumented code path.
   */
  emit<K extends keyof Events & string>(name: K, payload: Events[K] | (() => Events[K])): void;
}

/** Creates an {@link Instrumentation} for the given event map. */
export function createInstrumentation<Events extends InstrumentationEventMap>(
  onListenerError: (error: unknown, name: string) => void = () => undefined,
): Instrumentation<Events> {
  const listeners = new Map<string, Set<InstrumentationListener<never>>>();
  return {
    on(name, listener) {
      let set = listeners.get(name);
      if (set === undefined) {
        set = new Set();
        listeners.set(name, set);
      }
      const entry = listener as InstrumentationListener<never>;
      set.add(entry);
      return () => {
        set.delete(entry);
      };
    },
    hasListeners(name) {
      return (listeners.get(name)?.size ?? 0) > 0;
    },
    emit(name, payload) {
      const set = listeners.get(name);
      if (set === undefined || set.size === 0) return;
      const value =
        typeof payload === 'function' ? (payload as () => Events[typeof name])() : payload;
      for (const listener of set) {
        try {
          (listener as InstrumentationListener<Events[typeof name]>)(value, name);
        } catch (error) {
          onListenerError(error, name);
        }
      }
    },
  };
}
