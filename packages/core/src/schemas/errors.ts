/**
 * Typed errors of schema handling. They extend {@link TributaryError}, so callers decide
 * from `code` and `retriable` (and guards work across duplicate package copies).
 */
import { TributaryError } from '../errors.js';

/** Error codes of the schema module. */
export type SchemaErrorCode =
  | 'SCHEMA_NOT_FOUND'
  | 'SCHEMA_INCOMPATIBLE'
  | 'SCHEMA_INVALID'
  | 'SCHEMA_REFERENCE_MISSING'
  | 'PAYLOAD_SCHEMA_MISMATCH'
  | 'REGISTRY_UNAVAILABLE'
  | 'REGISTRY_REQUEST_FAILED';

/**
 * A subject, version or schema id the registry does not know, or an event type without a
 * declared schema. Not retriable: asking again gives the same answer until someone
 * registers or declares the schema.
 */
export class SchemaNotFoundError extends TributaryError {
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
    super('SCHEMA_NOT_FOUND', message, { details });
  }
}

/**
 * The registry refused a schema because it breaks the subject's compatibility mode.
 * `messages` holds the registry's (or the in-memory checker's) explanation, one line per
 * finding, when it gives one.
 */
export class IncompatibleSchemaError extends TributaryError {
  readonly subject: string;
  readonly messages: readonly string[];

  constructor(subject: string, messages: readonly string[], cause?: unknown) {
    const reason = messages.length === 0 ? '' : `:\n  - ${messages.join('\n  - ')}`;
    super('SCHEMA_INCOMPATIBLE', `Schema is incompatible with subject "${subject}"${reason}`, {
      cause,
      details: { subject, messages },
    });
    this.subject = subject;
    this.messages = messages;
  }
}

/** A schema's text does not parse as its declared format (or uses an unsupported feature). */
export class InvalidSchemaError extends TributaryError {
  constructor(message: string, cause?: unknown, details: Readonly<Record<string, unknown>> = {}) {
    super('SCHEMA_INVALID', message, { cause, details });
  }
}

/**
 * A schema uses a type it does not carry: an Avro named type or a Protobuf import that is
 * not among its references, or a reference that is not registered under its subject.
 * `reference` names it (Avro full name or `.proto` import path). Not retriable: declare the
 * reference (or register it) first.
 */
export class SchemaReferenceMissingError extends TributaryError {
  /** The missing type or file, as the schema names it. */
  readonly reference: string;
  /** The subject it was looked up under, when it is a registry lookup that failed. */
  readonly subject: string | undefined;

  constructor(reference: string, message: string, subject?: string) {
    super('SCHEMA_REFERENCE_MISSING', message, { details: { reference, subject } });
    this.reference = reference;
    this.subject = subject;
  }
}

/** One way a payload fails its schema. */
export interface PayloadIssue {
  /** JSON pointer (RFC 6901) of the offending value, `''` for the payload itself. */
  readonly path: string;
  /** What is wrong, e.g. `must have required property 'amount'`. */
  readonly message: string;
  /** The schema keyword that failed (`required`, `type`, …), when known. */
  readonly keyword?: string;
}

/**
 * A payload does not match its declared schema. Thrown before anything is written (at
 * append) or published (at capture); lists every issue with its JSON-pointer path.
 */
export class PayloadSchemaMismatchError extends TributaryError {
  readonly eventType: string;
  readonly schemaVersion: number;
  readonly issues: readonly PayloadIssue[];

  constructor(eventType: string, schemaVersion: number, issues: readonly PayloadIssue[]) {
    const lines = issues.map(
      (issue) => `  - ${issue.path === '' ? '/' : issue.path}: ${issue.message}`,
    );
    super(
      'PAYLOAD_SCHEMA_MISMATCH',
      `Payload of ${eventType} v${schemaVersion} does not match its schema:\n${lines.join('\n')}`,
      { details: { eventType, schemaVersion, issues } },
    );
    this.eventType = eventType;
    this.schemaVersion = schemaVersion;
    this.issues = issues;
  }
}

/**
 * The registry could not be reached or answered with a server error. Retriable: the
 * capturer pauses and tries again rather than publishing anything without its schema.
 */
export class RegistryUnavailableError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super('REGISTRY_UNAVAILABLE', message, { retriable: true, cause });
  }
}

/** The registry rejected a request for another reason (bad request, auth…). Not retriable. */
export class RegistryRequestError extends TributaryError {
  readonly status: number | undefined;

  constructor(message: string, status: number | undefined, cause?: unknown) {
    super('REGISTRY_REQUEST_FAILED', message, { cause, details: { status } });
    this.status = status;
  }
}
