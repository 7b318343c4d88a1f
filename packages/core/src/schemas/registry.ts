/**
 * The schema registry port: what Tributary needs from a Confluent-compatible registry.
 * Implementations: `ConfluentSchemaRegistryClient` (@tributary/outbox, over HTTP) and
 * `InMemorySchemaRegistry` (@tributary/testing); both pass the same contract suite.
 */

/** Schema languages a registry stores; the names are the registry's `schemaType` values. */
export type SchemaFormat = 'JSON' | 'AVRO' | 'PROTOBUF';

/** Every {@link SchemaFormat}. */
export const SCHEMA_FORMATS: readonly SchemaFormat[] = ['JSON', 'AVRO', 'PROTOBUF'];

/**
 * A reference from one schema to another registered schema (Confluent `references`): the
 * Avro full name or the `.proto` import path the schema uses, and the subject and version
 * the referenced schema is registered under.
 */
export interface SchemaReference {
  readonly name: string;
  readonly subject: string;
  readonly version: number;
}

/** A schema as the registry stores it: its language and its text. */
export interface RegistrySchema {
  readonly format: SchemaFormat;
  /** The schema text: JSON for JSON Schema and Avro, `.proto` source for Protobuf. */
  readonly schema: string;
  readonly references?: readonly SchemaReference[];
}

/** A schema registered under a subject. */
export interface RegisteredSchema {
  readonly subject: string;
  /** 1-based version inside the subject. */
  readonly version: number;
  /** Registry-wide id: what the wire format carries. */
  readonly id: number;
  readonly schema: RegistrySchema;
}

/**
 * Compatibility modes, as in Confluent Schema Registry. BACKWARD: consumers using the new
 * schema can read data written with the previous one; FORWARD: data written with the new
 * schema can be read with the previous one; FULL: both. `_TRANSITIVE` checks every earlier
 * version instead of only the latest.
 */
export type CompatibilityMode =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

/** Every {@link CompatibilityMode}. */
export const COMPATIBILITY_MODES: readonly CompatibilityMode[] = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
];

/** True when `value` names a {@link CompatibilityMode}. */
export function isCompatibilityMode(value: unknown): value is CompatibilityMode {
  return typeof value === 'string' && (COMPATIBILITY_MODES as readonly string[]).includes(value);
}

/** The answer to a compatibility check. */
export interface CompatibilityResult {
  readonly compatible: boolean;
  /** Why not, one line per finding, when the registry explains (Apicurio does not). */
  readonly messages: readonly string[];
}

/**
 * The registry port. All methods may throw `RegistryUnavailableError` (retriable) when the
 * registry cannot be reached.
 */
export interface SchemaRegistry {
  /**
   * Registers `schema` under `subject`, or returns the existing registration when the same
   * schema is already there (registering is idempotent).
   *
   * @throws IncompatibleSchemaError when the subject's compatibility mode refuses it.
   * @throws InvalidSchemaError when the schema text does not parse.
   */
  register(subject: string, schema: RegistrySchema): Promise<RegisteredSchema>;
  /** The registration of exactly this schema under `subject`, or `undefined`. */
  lookup(subject: string, schema: RegistrySchema): Promise<RegisteredSchema | undefined>;
  /** The latest version of `subject`, or `undefined` when the subject does not exist. */
  latest(subject: string): Promise<RegisteredSchema | undefined>;
  /** One version of `subject`, or `undefined` when the subject or version does not exist. */
  getVersion(subject: string, version: number): Promise<RegisteredSchema | undefined>;
  /** Versions of `subject`, ascending; empty when it does not exist. */
  versions(subject: string): Promise<readonly number[]>;
  /**
   * The schema with this registry-wide id.
   *
   * @throws SchemaNotFoundError for an unknown id.
   */
  getById(id: number): Promise<RegistrySchema>;
  /** Every subject. */
  subjects(): Promise<readonly string[]>;
  /**
   * Would registering `schema` under `subject` be accepted under the subject's effective
   * compatibility mode? A subject that does not exist accepts anything.
   */
  checkCompatibility(subject: string, schema: RegistrySchema): Promise<CompatibilityResult>;
  /** The subject's own mode, else the global one (`subject` omitted: the global one). */
  getCompatibility(subject?: string): Promise<CompatibilityMode>;
  /** Sets the subject's mode (`subject` omitted: the global default). */
  setCompatibility(mode: CompatibilityMode, subject?: string): Promise<void>;
  /** Deletes a subject and its versions (ids stay resolvable in Confluent; tests use it). */
  deleteSubject(subject: string): Promise<void>;
}
