/**
 * Typed errors. Every error Tributary throws extends {@link TributaryError} and carries a
 * stable `code` and a `retriable` flag, so callers (and the retry helper) decide what to do
 * from data rather than from messages. Guards check `code`/`name`, not only `instanceof`,
 * because two copies of this package in one process (duplicate installs) would otherwise
 * make `instanceof` lie.
 */

/** Stable error codes. Adapters may add their own codes; these are the core ones. */
export type CoreErrorCode =
  | 'VALIDATION_FAILED'
  | 'CONCURRENCY_CONFLICT'
  | 'DUPLICATE_EVENT_ID'
  | 'INVALID_IDENTIFIER'
  | 'INVALID_VERSION'
  | 'INVALID_EVENT'
  | 'RECORD_TOO_LARGE'
  | 'COMMAND_ID_REUSED'
  | 'UNKNOWN_EVENT_TYPE'
  | 'UNKNOWN_COMMAND'
  | 'DOMAIN_RULE_VIOLATION'
  | 'UPCAST_FAILED'
  | 'SERIALIZATION_FAILED'
  | 'RETRIES_EXHAUSTED';

/** Options shared by every Tributary error. */
export interface TributaryErrorOptions {
  /** Whether repeating the same operation may succeed. Defaults to `false`. */
  readonly retriable?: boolean;
  /** The underlying error, if any. */
  readonly cause?: unknown;
  /** Structured context for logs; never needed to understand the message. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Base class of every error Tributary throws. */
export class TributaryError extends Error {
  /** Marker checked by {@link isTributaryError}; survives duplicate package copies. */
  readonly isTributaryError = true as const;
  /** A stable, machine-readable code such as `CONCURRENCY_CONFLICT`. */
  readonly code: string;
  /** Whether repeating the same operation may succeed. */
  readonly retriable: boolean;
  /** Structured context for logs. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
  }
}

/**
 * True when `error` is a Tributary error, optionally with the given code. Works across
 * duplicate copies of the package because it checks a marker property, not the prototype.
 */
export function isTributaryError(error: unknown, code?: string): error is TributaryError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as Partial<TributaryError>;
  if (candidate.isTributaryError !== true || typeof candidate.code !== 'string') return false;
  return code === undefined || candidate.code === code;
}

/** True when the error says that retrying may help (`retriable: true`). */
export function isRetriableError(error: unknown): boolean {
  return isTributaryError(error) && error.retriable;
}

/** One failed rule on one field of a validated object. */
export interface ValidationIssue {
  /** Dotted path of the field, e.g. `amount` or `lines.0.quantity`. */
  readonly field: string;
  /** The rule that failed, e.g. `isPositive` or `maxLength`. */
  readonly rule: string;
  /** Human-readable explanation from the rule. */
  readonly message: string;
}

/** A command (or other input) failed validation. Lists every field and rule that failed. */
export class ValidationError extends TributaryError {
  readonly issues: readonly ValidationIssue[];

  constructor(subject: string, issues: readonly ValidationIssue[]) {
    const lines = issues.map((issue) => `  - ${issue.field}: ${issue.message} (${issue.rule})`);
    super('VALIDATION_FAILED', `${subject} is invalid:\n${lines.join('\n')}`, {
      details: { subject, issues },
    });
    this.issues = issues;
  }
}

/** Identifies one event stream: all events of one aggregate instance. */
export interface StreamRef {
  readonly aggregateType: string;
  readonly aggregateId: string;
}

/**
 * An append found the stream at another version than expected: someone else wrote first.
 * Retriable, because reloading the aggregate and deciding again usually succeeds.
 */
export class ConcurrencyError extends TributaryError {
  readonly stream: StreamRef;
  /** What the caller expected, as given (`'no-stream'`, `'any'` or a version). */
  readonly expectedVersion: number | 'no-stream' | 'any';
  /** The stream's version when the append was rejected (0 = no stream), if known. */
  readonly actualVersion: number | undefined;

  constructor(
    stream: StreamRef,
    expectedVersion: number | 'no-stream' | 'any',
    actualVersion: number | undefined,
    cause?: unknown,
  ) {
    const actual = actualVersion === undefined ? 'unknown' : String(actualVersion);
    super(
      'CONCURRENCY_CONFLICT',
      `Stream ${stream.aggregateType}/${stream.aggregateId} is at version ${actual}, expected ${String(expectedVersion)}`,
      { retriable: true, cause, details: { stream, expectedVersion, actualVersion } },
    );
    this.stream = stream;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/**
 * Some, but not all, event ids of an append already exist (or exist in another stream). A
 * full repeat of an earlier append is not an error: it returns `status: 'duplicate'`.
 */
export class DuplicateEventError extends TributaryError {
  readonly eventIds: readonly string[];

  constructor(eventIds: readonly string[], reason: string) {
    super('DUPLICATE_EVENT_ID', `Event id(s) ${eventIds.join(', ')} already stored: ${reason}`, {
      details: { eventIds },
    });
    this.eventIds = eventIds;
  }
}

/** A name (aggregate type, event type, schema, table…) does not match its required pattern. */
export class InvalidIdentifierError extends TributaryError {
  constructor(kind: string, value: unknown, rule: string) {
    super('INVALID_IDENTIFIER', `Invalid ${kind} ${JSON.stringify(value)}: ${rule}`, {
      details: { kind, value },
    });
  }
}

/** A version (expected version, from-version, schema version) is not a valid integer. */
export class InvalidVersionError extends TributaryError {
  constructor(kind: string, value: unknown, rule: string) {
    super('INVALID_VERSION', `Invalid ${kind} ${String(value)}: ${rule}`, {
      details: { kind, value: String(value) },
    });
  }
}

/** An event is malformed: empty append, bad payload, oversized payload and the like. */
export class InvalidEventError extends TributaryError {
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
    super('INVALID_EVENT', message, { details });
  }
}

/**
 * An event whose Kafka record would exceed the configured maximum record size. Capture
 * could never publish it (the broker refuses it), so the store refuses it at append and
 * writes nothing of the append.
 */
export class RecordTooLargeError extends TributaryError {
  readonly eventId: string;
  /** Size of the record batch capture would publish (an upper bound, see `eventRecordSize`). */
  readonly recordBytes: number;
  readonly maxRecordBytes: number;

  constructor(
    event: {
      readonly eventId: string;
      readonly eventType: string;
      readonly aggregateType: string;
      readonly aggregateId: string;
    },
    sizes: {
      readonly recordBytes: number;
      readonly valueBytes: number;
      readonly headerBytes: number;
    },
    maxRecordBytes: number,
  ) {
    super(
      'RECORD_TOO_LARGE',
      `Event ${event.eventId} (${event.eventType}) of ${event.aggregateType}/${event.aggregateId} would be a Kafka record of ${sizes.recordBytes} bytes (payload as jsonb text ${sizes.valueBytes}, headers ${sizes.headerBytes}), over maxRecordBytes ${maxRecordBytes}; nothing was written. Make the event smaller (keep large data elsewhere and reference it), or raise the broker's and topic's message.max.bytes and maxRecordBytes together.`,
      {
        details: {
          eventId: event.eventId,
          eventType: event.eventType,
          aggregateType: event.aggregateType,
          aggregateId: event.aggregateId,
          recordBytes: sizes.recordBytes,
          maxRecordBytes,
        },
      },
    );
    this.eventId = event.eventId;
    this.recordBytes = sizes.recordBytes;
    this.maxRecordBytes = maxRecordBytes;
  }
}

/**
 * A command id (idempotency key) was already used for a command on another stream. Command
 * ids must be unique per command: reusing one for a different command would silently
 * return the other command's result.
 */
export class CommandIdReusedError extends TributaryError {
  constructor(commandId: string, recordedFor: StreamRef, requestedFor: StreamRef) {
    super(
      'COMMAND_ID_REUSED',
      `Command id ${JSON.stringify(commandId)} was already used for ${recordedFor.aggregateType}/${recordedFor.aggregateId}, not ${requestedFor.aggregateType}/${requestedFor.aggregateId}; give every command its own id (a retry of the same command keeps it)`,
      { details: { commandId, recordedFor, requestedFor } },
    );
  }
}

/** An event type that the aggregate (or projection) does not know. */
export class UnknownEventTypeError extends TributaryError {
  constructor(owner: string, eventType: string) {
    super('UNKNOWN_EVENT_TYPE', `${owner} does not know event type "${eventType}"`, {
      details: { owner, eventType },
    });
  }
}

/**
 * No aggregate handles this command class. A plain object (type `Object`) gets its own
 * message: it is the usual mistake (`when({ ... })`, `bus.execute({ ... })`), and "no
 * aggregate handles Object" would not say how to fix it.
 */
export class UnknownCommandError extends TributaryError {
  constructor(commandType: string) {
    super(
      'UNKNOWN_COMMAND',
      commandType === 'Object'
        ? 'A plain object is not a command: create it with command(CommandClass, props) (or new CommandClass()), so its type and validation rules are known.'
        : `No aggregate handles command "${commandType}". Register the aggregate that declares it with the command bus.`,
      { details: { commandType } },
    );
  }
}

/**
 * A business rule rejected a command (e.g. insufficient funds). Thrown from `decide`.
 * Subclass it per rule so tests and callers can tell rules apart.
 */
export class DomainRuleViolation extends TributaryError {
  readonly rule: string;

  constructor(rule: string, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super('DOMAIN_RULE_VIOLATION', message, { details: { rule, ...details } });
    this.rule = rule;
  }
}

/** An upcaster threw or produced an invalid payload. */
export class UpcastError extends TributaryError {
  constructor(eventType: string, fromVersion: number, cause: unknown) {
    super('UPCAST_FAILED', `Upcasting ${eventType} from schema version ${fromVersion} failed`, {
      cause,
      details: { eventType, fromVersion },
    });
  }
}

/** A value could not be serialized or deserialized. */
export class SerializationError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super('SERIALIZATION_FAILED', message, { cause });
  }
}

/** The retry helper gave up; `cause` is the last error. */
export class RetriesExhaustedError extends TributaryError {
  readonly attempts: number;

  constructor(operation: string, attempts: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('RETRIES_EXHAUSTED', `${operation} failed after ${attempts} attempts: ${reason}`, {
      cause,
      details: { operation, attempts },
    });
    this.attempts = attempts;
  }
}
