/**
 * `tributary schemas check` and `tributary schemas register`: compare the application's
 * declared schemas with the registry, and register them. The declarations come from a
 * module the user names (`--schemas ./dist/schemas.js`) whose default export (or `schemas`
 * export) is an `EventSchemaCatalog` or an array of declarations.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  defaultTopicFor,
  EventSchemaCatalog,
  flattenReferences,
  isCompatibilityMode,
  isTributaryError,
  registerReferences,
  SchemaReferenceMissingError,
  subjectNameStrategy,
  toRegistrySchema,
  type CompatibilityMode,
  type EventSchemaDeclaration,
  type SchemaRegistry,
} from '@tributary/core';
import { ConfluentSchemaRegistryClient, createDefaultSchemaCodecs } from '@tributary/outbox';
import { checkReferences, registrySchemaFor } from './references.js';

/** Output streams of the command. */
export interface SchemasCliOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** Replaceable collaborators, for tests. */
export interface SchemasCommandHooks {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Used instead of a client built from `--registry-url`. */
  readonly registry?: SchemaRegistry;
}

/** Help text of `tributary schemas`. */
export const SCHEMAS_USAGE = `Usage: tributary schemas <check|register> --schemas <module> [options]

  check      Compare the declared schemas with the registry under a compatibility mode;
             exits 1 with an explanation when a schema would break it (CI gate).
  register   Set each subject's compatibility mode and register the declared schemas.

Options:
  --schemas <module>          Module whose default (or "schemas") export is an
                              EventSchemaCatalog or an array of schema declarations
  --registry-url <url>        Registry base URL (default: env SCHEMA_REGISTRY_URL)
  --registry-username <user>  HTTP basic auth user (env SCHEMA_REGISTRY_USERNAME; the password only
                              in env SCHEMA_REGISTRY_PASSWORD; default: no auth)
  --registry-ca-file <pem>    CA of an https registry's certificate (env SCHEMA_REGISTRY_CA_FILE;
                              default: Node's public CAs)
  --mode <mode>               NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE,
                              FULL or FULL_TRANSITIVE (default: BACKWARD)
  --topic-prefix <prefix>     Topic of an aggregate type is <prefix>.<AggregateType> (default: events)
  --subject-strategy <name>   topic-record (<topic>-<EventType>, default), topic or record
  -h, --help                  Show this help
`;

function isDeclaration(value: unknown): value is EventSchemaDeclaration {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<EventSchemaDeclaration>;
  return (
    typeof candidate.aggregateType === 'string' &&
    typeof candidate.eventType === 'string' &&
    typeof candidate.schemaVersion === 'number' &&
    typeof candidate.schema === 'string' &&
    (candidate.format === 'JSON' || candidate.format === 'AVRO' || candidate.format === 'PROTOBUF')
  );
}

/**
 * Loads the declarations exported by a module.
 *
 * @throws Error naming the module when it exports nothing usable.
 */
export async function loadSchemaDeclarations(
  modulePath: string,
): Promise<EventSchemaDeclaration[]> {
  const loaded = (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, unknown>;
  const exported = loaded.schemas ?? loaded.default;
  const list: unknown =
    typeof exported === 'object' && exported !== null && 'declarations' in exported
      ? (exported as EventSchemaCatalog).declarations
      : exported;
  if (!Array.isArray(list) || !list.every(isDeclaration)) {
    throw new Error(
      `${modulePath} must export (default or "schemas") an EventSchemaCatalog or an array of declarations made with jsonSchema(), avroSchema() or protobufSchema()`,
    );
  }
  // Building the catalog rejects duplicate declarations.
  return [...new EventSchemaCatalog(list).declarations];
}

interface SubjectPlan {
  readonly subject: string;
  readonly declarations: readonly EventSchemaDeclaration[];
}

function planSubjects(
  declarations: readonly EventSchemaDeclaration[],
  topicPrefix: string,
  strategyName: string,
): SubjectPlan[] {
  const naming = subjectNameStrategy(strategyName);
  const bySubject = new Map<string, EventSchemaDeclaration[]>();
  for (const declaration of declarations) {
    const subject = naming({
      topic: defaultTopicFor(declaration.aggregateType, topicPrefix),
      eventType: declaration.eventType,
      recordName: declaration.recordName,
    });
    const list = bySubject.get(subject) ?? [];
    list.push(declaration);
    bySubject.set(subject, list);
  }
  // Old versions first: that is the order in which they were (or will be) registered.
  return [...bySubject].map(([subject, list]) => ({
    subject,
    declarations: list.sort((a, b) => a.schemaVersion - b.schemaVersion),
  }));
}

const label = (declaration: EventSchemaDeclaration): string =>
  `${declaration.aggregateType}/${declaration.eventType} v${declaration.schemaVersion} (${declaration.format})`;

async function check(
  registry: SchemaRegistry,
  plans: readonly SubjectPlan[],
  mode: CompatibilityMode,
  output: SchemasCliOutput,
): Promise<number> {
  let breaks = 0;
  const codecs = createDefaultSchemaCodecs();
  const referencesSeen = new Map<string, boolean>();
  for (const { subject, declarations } of plans) {
    const versions = await registry.versions(subject);
    if (versions.length > 0) {
      const configured = await registry.getCompatibility(subject);
      if (configured !== mode) {
        // The registry enforces its own mode when the capturer auto-registers; a check under
        // another mode would promise something the registry does not hold anyone to.
        breaks += 1;
        output.err(
          `✗ ${subject}: the registry runs this subject under ${configured}, the check requires ${mode}. ` +
            `Run \`tributary schemas register --mode ${mode}\` to set it, or pass --mode ${configured}.`,
        );
        continue;
      }
    }
    for (const declaration of declarations) {
      breaks += await checkReferences(
        registry,
        declaration.references ?? [],
        mode,
        output,
        referencesSeen,
      );
      const schema = await registrySchemaFor(registry, codecs, declaration);
      if (schema instanceof SchemaReferenceMissingError) {
        const known = flattenReferences(declaration.references ?? []).some(
          (reference) => reference.name === schema.reference,
        );
        if (known && versions.length === 0) {
          output.out(
            `✓ ${subject}: ${label(declaration)} is new (no subject yet; its reference "${schema.reference}" is registered first)`,
          );
          continue;
        }
        breaks += 1;
        output.err(
          known
            ? `✗ ${subject}: ${label(declaration)} cannot be checked: its reference "${schema.reference}" is not registered under "${schema.subject ?? schema.reference}" [${schema.code}]. Run \`tributary schemas register\` (references first), then check again.`
            : `✗ ${subject}: ${label(declaration)} uses "${schema.reference}", which is not among its references [${schema.code}]: ${schema.message}`,
        );
        continue;
      }
      const registered = await registry.lookup(subject, schema);
      if (registered !== undefined) {
        output.out(
          `✓ ${subject}: ${label(declaration)} is registered (version ${registered.version}, id ${registered.id})`,
        );
        continue;
      }
      const result = await registry.checkCompatibility(subject, schema);
      if (result.compatible) {
        output.out(
          versions.length === 0
            ? `✓ ${subject}: ${label(declaration)} is new (no subject yet)`
            : `✓ ${subject}: ${label(declaration)} is ${mode}-compatible with the registered versions`,
        );
        continue;
      }
      breaks += 1;
      const reasons =
        result.messages.length === 0 ? ['(the registry gave no details)'] : result.messages;
      output.err(
        `✗ ${subject}: ${label(declaration)} breaks ${mode} compatibility with what the registry holds:\n` +
          reasons.map((reason) => `    - ${reason}`).join('\n') +
          `\n  ${describeMode(mode)}`,
      );
    }
  }
  output.out(
    breaks === 0
      ? `tributary schemas check: ${plans.length} subject(s) compatible under ${mode}`
      : `tributary schemas check: ${breaks} break(s) under ${mode}`,
  );
  return breaks === 0 ? 0 : 1;
}

function describeMode(mode: CompatibilityMode): string {
  if (mode.startsWith('BACKWARD')) {
    return 'BACKWARD means consumers using the new schema must read every event written with the old one (add optional fields to closed models, never change or remove required ones).';
  }
  if (mode.startsWith('FORWARD'))
    return 'FORWARD means consumers still on the old schema must read events written with the new one.';
  if (mode.startsWith('FULL')) return 'FULL means both BACKWARD and FORWARD.';
  return '';
}

async function register(
  registry: SchemaRegistry,
  plans: readonly SubjectPlan[],
  mode: CompatibilityMode,
  output: SchemasCliOutput,
): Promise<number> {
  const referenceModes = new Set<string>();
  for (const { subject, declarations } of plans) {
    let modeSet = false;
    if ((await registry.versions(subject)).length > 0) {
      await registry.setCompatibility(mode, subject);
      modeSet = true;
    }
    for (const declaration of declarations) {
      // Referenced schemas first, each under its own subject (the registry resolves them).
      const references = await registerReferences(
        registry,
        declaration.references ?? [],
        'register',
      );
      for (const reference of flattenReferences(declaration.references ?? [])) {
        if (referenceModes.has(reference.subject)) continue;
        referenceModes.add(reference.subject);
        await registry.setCompatibility(mode, reference.subject);
        output.out(`✓ ${reference.subject}: reference "${reference.name}" registered`);
      }
      const registered = await registry.register(subject, {
        ...toRegistrySchema(declaration),
        ...(references.length === 0 ? {} : { references }),
      });
      output.out(
        `✓ ${subject}: ${label(declaration)} → version ${registered.version}, id ${registered.id}`,
      );
      // A subject's mode can only be set once it exists (Apicurio), so new subjects get it
      // after their first version, before any later one is checked.
      if (!modeSet) {
        await registry.setCompatibility(mode, subject);
        modeSet = true;
      }
    }
  }
  output.out(`tributary schemas register: ${plans.length} subject(s) under ${mode}`);
  return 0;
}

/**
 * Runs `tributary schemas …` and returns the exit code: 0 ok, 1 break or failure, 2 usage.
 */
export async function schemasCommand(
  args: readonly string[],
  output: SchemasCliOutput,
  hooks: SchemasCommandHooks = {},
): Promise<number> {
  const [action, ...rest] = args;
  const { values } = parseArgs({
    args: [...rest],
    options: {
      schemas: { type: 'string' },
      'registry-url': { type: 'string' },
      'registry-username': { type: 'string' },
      'registry-ca-file': { type: 'string' },
      mode: { type: 'string' },
      'topic-prefix': { type: 'string' },
      'subject-strategy': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true || action === '-h' || action === '--help') {
    output.out(SCHEMAS_USAGE);
    return 0;
  }
  if (action !== 'check' && action !== 'register') {
    output.err(
      `tributary schemas: expected check or register, got ${action ?? 'nothing'}\n\n${SCHEMAS_USAGE}`,
    );
    return 2;
  }
  const mode = values.mode ?? 'BACKWARD';
  if (!isCompatibilityMode(mode)) {
    output.err(`tributary schemas: unknown --mode ${mode}`);
    return 2;
  }
  if (values.schemas === undefined) {
    output.err('tributary schemas: --schemas <module> is required');
    return 2;
  }
  const env = hooks.env ?? process.env;
  const url = values['registry-url'] ?? env.SCHEMA_REGISTRY_URL;
  let registry = hooks.registry;
  if (registry === undefined) {
    if (url === undefined || url === '') {
      output.err('tributary schemas: no registry. Pass --registry-url or set SCHEMA_REGISTRY_URL.');
      return 2;
    }
    // HTTP basic auth (Confluent Cloud API key and secret); the secret is environment-only.
    const username = values['registry-username'] ?? env.SCHEMA_REGISTRY_USERNAME;
    const password = env.SCHEMA_REGISTRY_PASSWORD;
    if (
      (username === undefined || username === '') !== (password === undefined || password === '')
    ) {
      output.err(
        'tributary schemas: set both SCHEMA_REGISTRY_USERNAME (or --registry-username) and SCHEMA_REGISTRY_PASSWORD for basic auth, or neither.',
      );
      return 2;
    }
    const caFile = values['registry-ca-file'] ?? env.SCHEMA_REGISTRY_CA_FILE;
    let ca: string | undefined;
    if (caFile !== undefined && caFile !== '') {
      try {
        ca = readFileSync(caFile, 'utf8');
      } catch (error) {
        output.err(
          `tributary schemas: SCHEMA_REGISTRY_CA_FILE (--registry-ca-file): cannot read ${caFile} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        );
        return 2;
      }
    }
    registry = new ConfluentSchemaRegistryClient({
      url,
      ...(username === undefined || username === '' || password === undefined
        ? {}
        : { auth: { username, password } }),
      ...(ca === undefined ? {} : { ca }),
    });
  }
  try {
    const declarations = await loadSchemaDeclarations(values.schemas);
    const plans = planSubjects(
      declarations,
      values['topic-prefix'] ?? 'events',
      values['subject-strategy'] ?? 'topic-record',
    );
    return action === 'check'
      ? await check(registry, plans, mode, output)
      : await register(registry, plans, mode, output);
  } catch (error) {
    const code = isTributaryError(error) ? ` [${error.code}]` : '';
    output.err(
      `tributary schemas ${action}: ${error instanceof Error ? error.message : String(error)}${code}`,
    );
    return 1;
  }
}
