/**
 * Encoding payloads for the capturer: the registry wire format with the schema id of the
 * event's declared schema. Ids are resolved once per (subject, schema) and cached; when the
 * registry is down the encoder throws the retriable `RegistryUnavailableError`, so capture
 * pauses and retries instead of publishing an event without its schema.
 */
import {
  compileOptionsOf,
  encodeWireFormat,
  JSON_CONTENT_TYPE,
  PayloadSchemaMismatchError,
  REGISTRY_CONTENT_TYPE,
  registerReferences,
  SchemaNotFoundError,
  toRegistrySchema,
  topicRecordNameStrategy,
  type CompiledSchema,
  type EventEnvelope,
  type EventSchemaCatalog,
  type EventSchemaDeclaration,
  type SchemaCodecs,
  type SchemaRegistry,
  type SubjectNameStrategy,
} from '@tributary/core';
import { createDefaultSchemaCodecs } from './codecs.js';

/** How schema ids are obtained. */
export type SchemaRegistration =
  /** Register the declared schema on first use (the registry checks compatibility). */
  | 'auto'
  /** Only look schemas up; an unregistered schema halts capture (`SCHEMA_NOT_FOUND`). */
  | 'pre-registered';

/** Options of {@link createRegistryEncoder}. */
export interface RegistryEncoderOptions {
  readonly registry: SchemaRegistry;
  readonly catalog: EventSchemaCatalog;
  /** Default: JSON Schema, Avro and Protobuf. */
  readonly codecs?: SchemaCodecs;
  /** Default `<topic>-<EventType>`. */
  readonly subjectNaming?: SubjectNameStrategy;
  /** Default `auto`. */
  readonly registration?: SchemaRegistration;
  /**
   * An event with no declared schema: `json` publishes its payload as plain JSON (records of
   * both kinds can share a topic), `fail` refuses it. Default `fail`.
   */
  readonly undeclared?: 'json' | 'fail';
  /** Validate payloads against their schema before encoding. Default `true`. */
  readonly validate?: boolean;
}

/** An encoded record value. */
export interface EncodedValue {
  readonly value: Buffer;
  /** For the `content-type` header. */
  readonly contentType: string;
  /** Absent for plain JSON. */
  readonly schemaId?: number;
  readonly subject?: string;
}

/** What the capturer calls for every event. */
export interface RegistryEncoder {
  /**
   * Encodes `envelope.payload` for `topic`.
   *
   * @throws RegistryUnavailableError (retriable) when the registry cannot be reached.
   * @throws SchemaNotFoundError, IncompatibleSchemaError, PayloadSchemaMismatchError (not
   * retriable: capture must halt rather than skip the event).
   */
  encode(topic: string, envelope: EventEnvelope): Promise<EncodedValue>;
  /** Like {@link encode} without awaiting; `undefined` when the schema id is not cached yet. */
  encodeCached(topic: string, envelope: EventEnvelope): EncodedValue | undefined;
}

const jsonBytes = (payload: unknown): Buffer => Buffer.from(JSON.stringify(payload), 'utf8');

/** Creates the capture-side encoder. */
export function createRegistryEncoder(options: RegistryEncoderOptions): RegistryEncoder {
  const codecs = options.codecs ?? createDefaultSchemaCodecs();
  const naming = options.subjectNaming ?? topicRecordNameStrategy;
  const registration = options.registration ?? 'auto';
  const validate = options.validate ?? true;
  const undeclared = options.undeclared ?? 'fail';
  const pending = new Map<string, Promise<number>>();

  const declarationOf = (envelope: EventEnvelope): EventSchemaDeclaration | undefined => {
    const declaration = options.catalog.find(
      envelope.aggregateType,
      envelope.eventType,
      envelope.schemaVersion,
    );
    if (declaration === undefined && undeclared === 'fail') {
      throw new SchemaNotFoundError(
        `No schema is declared for ${envelope.aggregateType}/${envelope.eventType} v${envelope.schemaVersion}; capture will not publish it without one`,
        {
          eventId: envelope.eventId,
          eventType: envelope.eventType,
          schemaVersion: envelope.schemaVersion,
        },
      );
    }
    return declaration;
  };

  const subjectOf = (topic: string, declaration: EventSchemaDeclaration): string =>
    naming({ topic, eventType: declaration.eventType, recordName: declaration.recordName });

  interface Prepared {
    readonly compiled: CompiledSchema;
    /** Subject and (once known) schema id per topic. */
    readonly byTopic: Map<string, { readonly subject: string; id: number | undefined }>;
  }
  // Keyed by the declaration object, so the hot path never hashes schema text.
  const prepared = new Map<EventSchemaDeclaration, Prepared>();
  const prepare = (declaration: EventSchemaDeclaration, topic: string) => {
    let entry = prepared.get(declaration);
    if (entry === undefined) {
      entry = {
        compiled: codecs.compile(toRegistrySchema(declaration), compileOptionsOf(declaration)),
        byTopic: new Map(),
      };
      prepared.set(declaration, entry);
    }
    let target = entry.byTopic.get(topic);
    if (target === undefined) {
      target = { subject: subjectOf(topic, declaration), id: undefined };
      entry.byTopic.set(topic, target);
    }
    return { compiled: entry.compiled, target };
  };

  const encodeWith = (
    compiled: CompiledSchema,
    id: number,
    subject: string,
    envelope: EventEnvelope,
  ): EncodedValue => {
    if (validate) {
      const issues = compiled.validate(envelope.payload);
      if (issues.length > 0) {
        throw new PayloadSchemaMismatchError(envelope.eventType, envelope.schemaVersion, issues);
      }
    }
    const bytes = encodeWireFormat(id, compiled.encode(envelope.payload));
    return {
      value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      contentType: REGISTRY_CONTENT_TYPE,
      schemaId: id,
      subject,
    };
  };

  const resolveId = (subject: string, declaration: EventSchemaDeclaration): Promise<number> => {
    const references = (declaration.references ?? [])
      .map((reference) => `${reference.subject}\u0001${reference.schema}`)
      .join('\u0002');
    const cacheKey = `${subject}\u0000${declaration.format}\u0000${declaration.schema}\u0000${references}`;
    let promise = pending.get(cacheKey);
    if (promise === undefined) {
      promise = (async () => {
        // Referenced schemas first (dependencies before dependents): the registry resolves
        // a schema's references when it registers or looks it up.
        const resolved = await registerReferences(
          options.registry,
          declaration.references ?? [],
          registration === 'auto' ? 'register' : 'lookup',
        );
        const schema = {
          ...toRegistrySchema(declaration),
          ...(resolved.length === 0 ? {} : { references: resolved }),
        };
        if (registration === 'auto') return (await options.registry.register(subject, schema)).id;
        const found = await options.registry.lookup(subject, schema);
        if (found === undefined) {
          throw new SchemaNotFoundError(
            `Schema of ${declaration.eventType} v${declaration.schemaVersion} is not registered under ${subject}; run \`tributary schemas register\` or use registration "auto"`,
            { subject },
          );
        }
        return found.id;
      })().finally(() => {
        // Failures are not cached: the next attempt (after capture's back-off) asks again.
        pending.delete(cacheKey);
      });
      pending.set(cacheKey, promise);
    }
    return promise;
  };

  const encodeCached = (topic: string, envelope: EventEnvelope): EncodedValue | undefined => {
    const declaration = declarationOf(envelope);
    if (declaration === undefined) {
      return { value: jsonBytes(envelope.payload), contentType: JSON_CONTENT_TYPE };
    }
    const { compiled, target } = prepare(declaration, topic);
    return target.id === undefined
      ? undefined
      : encodeWith(compiled, target.id, target.subject, envelope);
  };

  return {
    encodeCached,
    async encode(topic: string, envelope: EventEnvelope): Promise<EncodedValue> {
      const cached = encodeCached(topic, envelope);
      if (cached !== undefined) return cached;
      const declaration = declarationOf(envelope) as EventSchemaDeclaration;
      const { compiled, target } = prepare(declaration, topic);
      target.id = await resolveId(target.subject, declaration);
      return encodeWith(compiled, target.id, target.subject, envelope);
    },
  };
}
