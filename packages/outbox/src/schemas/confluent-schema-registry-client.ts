/**
 * The real {@link SchemaRegistry}: a client of the Confluent Schema Registry REST API, which
 * Confluent, Apicurio (`/apis/ccompat/v7`) and Karapace all serve.
 *
 * It speaks HTTP itself rather than through `@kafkajs/confluent-schema-registry`'s
 * `SchemaRegistry` class, because that class exposes neither raw schema text by id nor the
 * config and compatibility endpoints the port needs; the wire format both produce is the
 * same, which the integration tests check by decoding each other's records.
 */
import {
  IncompatibleSchemaError,
  InvalidSchemaError,
  isCompatibilityMode,
  RegistryRequestError,
  RegistryUnavailableError,
  SchemaNotFoundError,
  SchemaReferenceMissingError,
  type CompatibilityMode,
  type CompatibilityResult,
  type RegisteredSchema,
  type RegistrySchema,
  type SchemaFormat,
  type SchemaRegistry,
} from '@tributary/core';
import { createCaFetch } from './ca-fetch.js';

/** Options of {@link ConfluentSchemaRegistryClient}. */
export interface ConfluentSchemaRegistryClientOptions {
  /** Base URL, e.g. `http://localhost:8081` or `http://host:8080/apis/ccompat/v7`. */
  readonly url: string;
  /** HTTP basic authentication (Confluent Cloud API key and secret). */
  readonly auth?: { readonly username: string; readonly password: string };
  /**
   * CA certificate(s), PEM text, an `https:` registry's certificate must chain to, instead
   * of Node's public CAs (a private CA). Default: none (the public CAs, plus
   * `NODE_EXTRA_CA_CERTS`). Ignored when `fetch` is given.
   */
  readonly ca?: string;
  /** Per-request timeout; a timeout counts as unavailable (retriable). Default 10,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Replaceable for tests. Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

interface ErrorBody {
  readonly error_code?: number;
  readonly message?: string;
  readonly messages?: readonly string[];
}

interface SchemaBody {
  readonly subject?: string;
  readonly version?: number;
  readonly id?: number;
  readonly schema?: string;
  readonly schemaType?: string;
  readonly references?: readonly { name: string; subject: string; version: number }[];
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
    method: string,
    path: string,
  ) {
    super(`${method} ${path} answered ${status}: ${body.message ?? '(no message)'}`);
  }
}

const formatOf = (schemaType: string | undefined): SchemaFormat =>
  // The API leaves `schemaType` out for Avro, its original and default format.
  schemaType === 'JSON' || schemaType === 'PROTOBUF' ? schemaType : 'AVRO';

const requestBody = (schema: RegistrySchema): Record<string, unknown> => ({
  schema: schema.schema,
  schemaType: schema.format,
  ...(schema.references === undefined ? {} : { references: schema.references }),
});

/**
 * Incompatibility explanations: Confluent lists them in `messages`; Apicurio puts them in
 * the message (`… list of diff types: [SUBSCHEMA_TYPE_CHANGED at /properties/x]`).
 */
function incompatibilityMessages(body: ErrorBody): string[] {
  if (body.messages !== undefined && body.messages.length > 0) return [...body.messages];
  const listed = /list of diff types: \[(.*)\]\s*$/s.exec(body.message ?? '')?.[1];
  if (listed !== undefined) return listed.split(/,\s*(?=[A-Z_]+ at )/).map((entry) => entry.trim());
  return body.message === undefined ? [] : [body.message];
}

/**
 * A 422 about references (Apicurio: `Unresolved reference`; Confluent: `Invalid schema …
 * reference`) becomes the typed error naming the references the schema declared.
 */
function unresolvedReference(error: unknown, schema: RegistrySchema, subject: string): void {
  if (!(error instanceof HttpError) || error.status !== 422) return;
  const references = schema.references ?? [];
  if (references.length === 0 || !/reference/i.test(error.body.message ?? '')) return;
  const names = references.map(
    (reference) => `"${reference.name}" (${reference.subject} v${reference.version})`,
  );
  throw new SchemaReferenceMissingError(
    references[0]?.name ?? '',
    `The registry cannot resolve the references of the schema for ${subject}: ${names.join(', ')} — ${error.body.message ?? ''}. Register referenced schemas first (tributary schemas register does)`,
    references[0]?.subject,
  );
}

const TLS_CODES =
  /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_.*)$/;

/** The TLS error code of a failed request (the global fetch wraps it in `cause`), if any. */
function tlsFailure(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 4; depth += 1) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === 'string' && TLS_CODES.test(code)) return code;
    current = cause;
  }
  return undefined;
}

/** A {@link SchemaRegistry} over the Confluent-compatible REST API. */
export class ConfluentSchemaRegistryClient implements SchemaRegistry {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ConfluentSchemaRegistryClientOptions) {
    this.#url = options.url.replace(/\/+$/, '');
    this.#headers = { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE };
    if (options.auth !== undefined) {
      const token = Buffer.from(`${options.auth.username}:${options.auth.password}`).toString(
        'base64',
      );
      this.#headers.authorization = `Basic ${token}`;
    }
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? (options.ca === undefined ? fetch : createCaFetch(options.ca));
  }

  /** The base URL requests go to. */
  get url(): string {
    return this.#url;
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await this.#fetch(`${this.#url}${path}`, {
        method,
        headers: this.#headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const tls = tlsFailure(error);
      if (tls !== undefined) {
        // The same certificate fails the same way on every retry: a misconfiguration.
        throw new RegistryRequestError(
          `Schema registry ${this.#url}: the TLS handshake failed (${tls}). Give the CA that signed the ` +
            'registry certificate (SCHEMA_REGISTRY_CA_FILE, or the client option `ca`), and use the host name the certificate names',
          undefined,
          error,
        );
      }
      throw new RegistryUnavailableError(
        `Schema registry ${this.#url} unreachable (${method} ${path}): ${error instanceof Error ? error.message : String(error)}`,
        error,
      );
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      parsed = { message: text.slice(0, 500) };
    }
    if (response.ok) return parsed as T;
    const errorBody = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as ErrorBody;
    throw new HttpError(response.status, errorBody, method, path);
  }

  /** Maps HTTP failures to typed errors; `notFound` handles 404s the caller expects. */
  #fail(error: unknown, context: string): never {
    if (!(error instanceof HttpError)) throw error;
    const { status, body } = error;
    if (status === 404)
      throw new SchemaNotFoundError(`${context}: ${body.message ?? 'not found'}`, { status });
    if (status === 422)
      throw new InvalidSchemaError(`${context}: ${body.message ?? 'invalid schema'}`, error);
    // Confluent reports backend trouble as 500 with codes 50001-50003, and gateways answer
    // 502-504: all worth retrying. Apicurio answers 500 with code 0 for schemas it cannot
    // read, which no retry will fix.
    const backend =
      body.error_code !== undefined && body.error_code >= 50001 && body.error_code <= 50003;
    if (
      status >= 502 ||
      status === 429 ||
      (status === 500 && (backend || body.error_code === undefined))
    ) {
      throw new RegistryUnavailableError(
        `${context}: registry answered ${status} ${body.message ?? ''}`.trim(),
        error,
      );
    }
    if (status === 401 || status === 403) {
      throw new RegistryRequestError(
        `${context}: the schema registry ${this.#url} refused the request (${status}${status === 401 ? ', authentication required or credentials wrong' : ', forbidden'}). ` +
          'Check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD (the client option `auth`) and the user’s role in the registry',
        status,
        error,
      );
    }
    throw new RegistryRequestError(
      `${context}: registry answered ${status} ${body.message ?? ''}`.trim(),
      status,
      error,
    );
  }

  async register(subject: string, schema: RegistrySchema): Promise<RegisteredSchema> {
    const path = `/subjects/${encodeURIComponent(subject)}/versions`;
    try {
      await this.#request<{ id: number }>('POST', path, requestBody(schema));
    } catch (error) {
      if (error instanceof HttpError && error.status === 409) {
        throw new IncompatibleSchemaError(subject, incompatibilityMessages(error.body), error);
      }
      unresolvedReference(error, schema, subject);
      this.#fail(error, `Registering a schema under ${subject}`);
    }
    // The register answer holds only the id; the lookup adds the version.
    const registered = await this.lookup(subject, schema);
    if (registered === undefined) {
      throw new RegistryRequestError(
        `Schema registered under ${subject} but not found right after`,
        undefined,
      );
    }
    return registered;
  }

  async lookup(subject: string, schema: RegistrySchema): Promise<RegisteredSchema | undefined> {
    try {
      const body = await this.#request<SchemaBody>(
        'POST',
        `/subjects/${encodeURIComponent(subject)}`,
        requestBody(schema),
      );
      return this.#registered(subject, body, schema.format);
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return undefined;
      unresolvedReference(error, schema, subject);
      this.#fail(error, `Looking up a schema under ${subject}`);
    }
  }

  #registered(subject: string, body: SchemaBody, fallbackFormat?: SchemaFormat): RegisteredSchema {
    if (
      typeof body.id !== 'number' ||
      typeof body.version !== 'number' ||
      typeof body.schema !== 'string'
    ) {
      throw new RegistryRequestError(`Malformed registry answer for ${subject}`, undefined);
    }
    // Apicurio's lookup answer omits `schemaType`; the caller's format is the right one then.
    const format =
      body.schemaType === undefined && fallbackFormat !== undefined
        ? fallbackFormat
        : formatOf(body.schemaType);
    return {
      subject,
      version: body.version,
      id: body.id,
      schema: {
        format,
        schema: body.schema,
        ...(body.references !== undefined && body.references.length > 0
          ? { references: body.references }
          : {}),
      },
    };
  }

  async getVersion(subject: string, version: number): Promise<RegisteredSchema | undefined> {
    try {
      const body = await this.#request<SchemaBody>(
        'GET',
        `/subjects/${encodeURIComponent(subject)}/versions/${version}`,
      );
      return this.#registered(subject, body);
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return undefined;
      this.#fail(error, `Reading version ${version} of ${subject}`);
    }
  }

  async latest(subject: string): Promise<RegisteredSchema | undefined> {
    try {
      const body = await this.#request<SchemaBody>(
        'GET',
        `/subjects/${encodeURIComponent(subject)}/versions/latest`,
      );
      return this.#registered(subject, body);
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return undefined;
      this.#fail(error, `Reading the latest schema of ${subject}`);
    }
  }

  async versions(subject: string): Promise<readonly number[]> {
    try {
      const body = await this.#request<number[]>(
        'GET',
        `/subjects/${encodeURIComponent(subject)}/versions`,
      );
      return [...body].sort((a, b) => a - b);
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return [];
      this.#fail(error, `Listing the versions of ${subject}`);
    }
  }

  async getById(id: number): Promise<RegistrySchema> {
    try {
      const body = await this.#request<SchemaBody>('GET', `/schemas/ids/${id}`);
      if (typeof body.schema !== 'string')
        throw new RegistryRequestError(`Malformed schema ${id}`, undefined);
      return {
        format: formatOf(body.schemaType),
        schema: body.schema,
        ...(body.references !== undefined && body.references.length > 0
          ? { references: body.references }
          : {}),
      };
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) {
        throw new SchemaNotFoundError(`No schema with id ${id} in ${this.#url}`, { id });
      }
      this.#fail(error, `Reading schema ${id}`);
    }
  }

  async subjects(): Promise<readonly string[]> {
    try {
      return await this.#request<string[]>('GET', '/subjects');
    } catch (error) {
      this.#fail(error, 'Listing subjects');
    }
  }

  async checkCompatibility(subject: string, schema: RegistrySchema): Promise<CompatibilityResult> {
    // Registering checks the latest version, or every version under a transitive mode.
    // The endpoints differ the same way (`/versions/latest` vs `/versions`, which Apicurio
    // compares with every version whatever the mode), so the mode picks the endpoint.
    const mode = await this.getCompatibility(subject);
    const versions = mode.endsWith('_TRANSITIVE') ? 'versions' : 'versions/latest';
    const path = `/compatibility/subjects/${encodeURIComponent(subject)}/${versions}?verbose=true`;
    try {
      const body = await this.#request<{ is_compatible?: boolean; messages?: string[] }>(
        'POST',
        path,
        requestBody(schema),
      );
      return { compatible: body.is_compatible === true, messages: body.messages ?? [] };
    } catch (error) {
      // No subject (or no version yet): nothing to be incompatible with.
      if (error instanceof HttpError && error.status === 404)
        return { compatible: true, messages: [] };
      if (error instanceof HttpError && error.status === 409) {
        return { compatible: false, messages: incompatibilityMessages(error.body) };
      }
      unresolvedReference(error, schema, subject);
      this.#fail(error, `Checking compatibility with ${subject}`);
    }
  }

  async getCompatibility(subject?: string): Promise<CompatibilityMode> {
    const read = async (path: string): Promise<CompatibilityMode> => {
      const body = await this.#request<{ compatibilityLevel?: string; compatibility?: string }>(
        'GET',
        path,
      );
      const level = body.compatibilityLevel ?? body.compatibility;
      if (!isCompatibilityMode(level)) {
        throw new RegistryRequestError(
          `Registry answered an unknown compatibility ${String(level)}`,
          undefined,
        );
      }
      return level;
    };
    try {
      if (subject !== undefined) {
        try {
          return await read(`/config/${encodeURIComponent(subject)}`);
        } catch (error) {
          // No mode of its own: the global one applies.
          if (!(error instanceof HttpError && error.status === 404)) throw error;
        }
      }
      return await read('/config');
    } catch (error) {
      this.#fail(error, `Reading the compatibility of ${subject ?? 'the registry'}`);
    }
  }

  async setCompatibility(mode: CompatibilityMode, subject?: string): Promise<void> {
    const path = subject === undefined ? '/config' : `/config/${encodeURIComponent(subject)}`;
    try {
      await this.#request('PUT', path, { compatibility: mode });
    } catch (error) {
      // Apicurio answers 404 when asked to set NONE where no rule exists: already NONE.
      if (mode === 'NONE' && error instanceof HttpError && error.status === 404) return;
      this.#fail(error, `Setting the compatibility of ${subject ?? 'the registry'} to ${mode}`);
    }
  }

  async deleteSubject(subject: string): Promise<void> {
    try {
      await this.#request('DELETE', `/subjects/${encodeURIComponent(subject)}`);
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return;
      this.#fail(error, `Deleting ${subject}`);
    }
  }
}
