import type { EventEnvelope } from './envelope.js';
import { UpcastError } from './errors.js';
import { assertEventType, assertVersion } from './identifiers.js';

/**
 * Raises one event type's payload from `fromVersion` to `fromVersion + 1`. Upcasters are
 * pure functions of the stored payload (and its envelope), so the same chain serves loading
 * aggregates and projecting from Kafka.
 */
export interface Upcaster {
  readonly eventType: string;
  readonly fromVersion: number;
  readonly upcast: (payload: unknown, envelope: EventEnvelope) => unknown;
}

/** An ordered set of upcasters keyed by (event type, schema version). */
export class UpcasterChain {
  readonly #steps = new Map<string, Map<number, Upcaster>>();

  /**
   * @throws Error when two upcasters claim the same (event type, from version): the chain
   * would be ambiguous.
   */
  constructor(upcasters: readonly Upcaster[] = []) {
    for (const upcaster of upcasters) {
      assertEventType(upcaster.eventType);
      assertVersion(`upcaster fromVersion of ${upcaster.eventType}`, upcaster.fromVersion, 1);
      let byVersion = this.#steps.get(upcaster.eventType);
      if (byVersion === undefined) {
        byVersion = new Map();
        this.#steps.set(upcaster.eventType, byVersion);
      }
      if (byVersion.has(upcaster.fromVersion)) {
        throw new Error(
          `Two upcasters for ${upcaster.eventType} from schema version ${upcaster.fromVersion}`,
        );
      }
      byVersion.set(upcaster.fromVersion, upcaster);
    }
  }

  /** The schema version an event of `eventType` reaches after upcasting from `fromVersion`. */
  targetVersion(eventType: string, fromVersion: number): number {
    const byVersion = this.#steps.get(eventType);
    let version = fromVersion;
    while (byVersion?.has(version) === true) version += 1;
    return version;
  }

  /**
   * Applies every upcaster from the envelope's schema version upwards. Returns the same
   * object when nothing applies, so the common path allocates nothing.
   *
   * @throws UpcastError when an upcaster throws or returns `undefined`.
   */
  upcast<T extends EventEnvelope>(envelope: T): T {
    const byVersion = this.#steps.get(envelope.eventType);
    if (byVersion === undefined) return envelope;
    let current: T = envelope;
    for (
      let step = byVersion.get(current.schemaVersion);
      step !== undefined;
      step = byVersion.get(current.schemaVersion)
    ) {
      let payload: unknown;
      try {
        payload = step.upcast(current.payload, current);
      } catch (error) {
        throw new UpcastError(envelope.eventType, current.schemaVersion, error);
      }
      if (payload === undefined) {
        throw new UpcastError(
          envelope.eventType,
          current.schemaVersion,
          new Error('upcaster returned undefined'),
        );
      }
      current = { ...current, payload, schemaVersion: current.schemaVersion + 1 };
    }
    return current;
  }
}
