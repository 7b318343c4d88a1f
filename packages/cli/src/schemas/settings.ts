/**
 * Registry encoding from the command line: which declarations module, which registry, how
 * schemas get their ids and which subjects they live under, for `tributary capture`
 * (encoding) and `tributary project` (decoding). One table drives flags, environment
 * variables, config-file keys (capture's `schemas` section) and the help text. Precedence:
 * flag > environment > config file > default; without a declarations module capture
 * publishes plain JSON, as before.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  createRecordValueDecoder,
  EventSchemaCatalog,
  subjectNameStrategy,
  type RecordValueDecoder,
  type SchemaRegistry,
} from '@tributary/core';
import {
  ConfluentSchemaRegistryClient,
  createDefaultSchemaCodecs,
  createRegistryEncoder,
  type RegistryEncoder,
  type SchemaRegistration,
} from '@tributary/outbox';
import { UsageError } from '../output.js';
import { loadSchemaDeclarations } from './command.js';

type Environment = Readonly<Record<string, string | undefined>>;

/** One schema setting. */
export interface SchemaSetting {
  /** The long flag, without `--`. */
  readonly flag: string;
  readonly env: string;
  /** Key in the `schemas` section of a capture config file. */
  readonly key: SchemaFileKey;
  readonly accepts: 'text' | readonly string[];
  /** Commands that read it (decoding needs only the registry). */
  readonly commands: readonly ('capture' | 'project')[];
  readonly description: string;
  readonly defaultValue?: string;
}

/** Keys of the `schemas` section of a capture config file. */
export type SchemaFileKey =
  | 'module'
  | 'registryUrl'
  | 'username'
  | 'password'
  | 'caFile'
  | 'registration'
  | 'subjectStrategy'
  | 'undeclared';

/** The `schemas` section of a capture config file. */
export type SchemaFileSettings = Partial<Record<SchemaFileKey, string>>;

/** The settings. */
export const SCHEMA_SETTINGS: readonly SchemaSetting[] = [
  {
    flag: 'schemas',
    env: 'TRIBUTARY_SCHEMAS_MODULE',
    key: 'module',
    accepts: 'text',
    commands: ['capture'],
    description:
      'Declarations module (as for `tributary schemas check`); set = registry encoding, unset = plain JSON',
  },
  {
    flag: 'registry-url',
    env: 'SCHEMA_REGISTRY_URL',
    key: 'registryUrl',
    accepts: 'text',
    commands: ['capture', 'project'],
    description:
      'Confluent-compatible registry base URL (project: decode registry-encoded records)',
  },
  {
    flag: 'registry-username',
    env: 'SCHEMA_REGISTRY_USERNAME',
    key: 'username',
    accepts: 'text',
    commands: ['capture', 'project'],
    description: 'Registry basic-auth user (Confluent Cloud: API key)',
  },
  {
    flag: 'registry-password',
    env: 'SCHEMA_REGISTRY_PASSWORD',
    key: 'password',
    accepts: 'text',
    commands: ['capture', 'project'],
    description: 'Registry basic-auth password (prefer the environment to a flag)',
  },
  {
    flag: 'registry-ca-file',
    env: 'SCHEMA_REGISTRY_CA_FILE',
    key: 'caFile',
    accepts: 'text',
    commands: ['capture', 'project'],
    description:
      "CA (PEM) of an https registry's certificate, instead of Node's public CAs (a private CA)",
  },
  {
    flag: 'schema-registration',
    env: 'TRIBUTARY_SCHEMA_REGISTRATION',
    key: 'registration',
    accepts: ['auto', 'pre-registered'],
    commands: ['capture'],
    description: 'auto: register on first use; pre-registered: only look ids up',
    defaultValue: 'auto',
  },
  {
    flag: 'subject-strategy',
    env: 'TRIBUTARY_SUBJECT_STRATEGY',
    key: 'subjectStrategy',
    accepts: ['topic-record', 'topic', 'record'],
    commands: ['capture'],
    description: 'Subjects: <topic>-<EventType>, <topic>-value or <recordName>',
    defaultValue: 'topic-record',
  },
  {
    flag: 'undeclared-events',
    env: 'TRIBUTARY_SCHEMA_UNDECLARED',
    key: 'undeclared',
    accepts: ['fail', 'json'],
    commands: ['capture'],
    description: 'An event type without a declared schema: halt capture, or publish plain JSON',
    defaultValue: 'fail',
  },
];

/** The keys the `schemas` section of a config file accepts. */
export const SCHEMA_FILE_SHAPE = Object.fromEntries(
  SCHEMA_SETTINGS.map((setting) => [setting.key, 'value' as const]),
);

const settingsOf = (command: 'capture' | 'project') =>
  SCHEMA_SETTINGS.filter((setting) => setting.commands.includes(command));

/** `parseArgs` options of a command's schema settings. */
export function schemaOptions(
  command: 'capture' | 'project',
): Readonly<Record<string, { type: 'string' }>> {
  return Object.fromEntries(settingsOf(command).map((s) => [s.flag, { type: 'string' }]));
}

/** Help lines of a command's schema settings. */
export function schemaUsage(command: 'capture' | 'project'): string {
  return settingsOf(command)
    .map((setting) => {
      const value = Array.isArray(setting.accepts) ? `<${setting.accepts.join('|')}>` : '<value>';
      const file = command === 'capture' ? `, config schemas.${setting.key}` : '';
      const fallback =
        setting.defaultValue === undefined ? '' : `; default ${setting.defaultValue}`;
      return `  --${`${setting.flag} ${value}`.padEnd(34)} ${setting.description}\n  ${''.padEnd(36)} (env ${setting.env}${file}${fallback})`;
    })
    .join('\n');
}

/** The resolved schema settings of a command. */
export interface SchemaSettings {
  /** Absolute path of the declarations module (capture), when registry encoding is on. */
  readonly module?: string;
  readonly registryUrl?: string;
  readonly auth?: { readonly username: string; readonly password: string };
  /** The registry's CA certificate(s), PEM text read from the CA file setting. */
  readonly ca?: string;
  readonly registration: SchemaRegistration;
  readonly subjectStrategy: string;
  readonly undeclared: 'fail' | 'json';
}

/**
 * Resolves the settings from flags (`values`), the environment and (capture) the config
 * file's `schemas` section, whose relative module path is relative to the file.
 *
 * @throws UsageError naming the source of a malformed or incomplete setting.
 */
export function schemaSettingsFrom(
  command: 'capture' | 'project',
  values: Readonly<Record<string, unknown>>,
  env: Environment,
  file: { readonly settings?: SchemaFileSettings; readonly path?: string } = {},
): SchemaSettings {
  const resolved: Partial<Record<SchemaFileKey, string>> = {};
  const sources: Partial<Record<SchemaFileKey, string>> = {};
  for (const setting of settingsOf(command)) {
    const flag = values[setting.flag];
    const fromEnv = env[setting.env];
    const fromFile = file.settings?.[setting.key];
    let raw: string | undefined;
    let source: string;
    if (typeof flag === 'string') [raw, source] = [flag, `--${setting.flag}`];
    else if (fromEnv !== undefined && fromEnv !== '') [raw, source] = [fromEnv, setting.env];
    else if (fromFile !== undefined) {
      if (typeof fromFile !== 'string')
        throw new UsageError(
          `schemas.${setting.key} of ${file.path ?? 'the config file'} must be a string`,
        );
      raw = fromFile;
      source = `schemas.${setting.key} of ${file.path ?? 'the config file'}`;
      if ((setting.key === 'module' || setting.key === 'caFile') && file.path !== undefined)
        raw = resolve(dirname(file.path), fromFile);
    } else continue;
    if (Array.isArray(setting.accepts) && !setting.accepts.includes(raw)) {
      throw new UsageError(`${source} must be ${setting.accepts.join(', ')}, not ${raw}`);
    }
    resolved[setting.key] = raw;
    sources[setting.key] = source;
  }
  const { username, password } = resolved;
  if ((username === undefined) !== (password === undefined)) {
    throw new UsageError(
      `registry credentials need both a username and a password; only ${sources.username ?? sources.password} is set`,
    );
  }
  if (
    command === 'capture' &&
    resolved.module !== undefined &&
    resolved.registryUrl === undefined
  ) {
    throw new UsageError(
      `${sources.module} asks for registry encoding but no registry is set: pass --registry-url or set SCHEMA_REGISTRY_URL`,
    );
  }
  let ca: string | undefined;
  if (resolved.caFile !== undefined) {
    try {
      ca = readFileSync(resolved.caFile, 'utf8');
    } catch (error) {
      throw new UsageError(
        `${sources.caFile}: cannot read ${resolved.caFile} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      );
    }
  }
  return {
    ...(resolved.module === undefined ? {} : { module: resolve(resolved.module) }),
    ...(ca === undefined ? {} : { ca }),
    ...(resolved.registryUrl === undefined ? {} : { registryUrl: resolved.registryUrl }),
    ...(username === undefined || password === undefined ? {} : { auth: { username, password } }),
    registration: (resolved.registration ?? 'auto') as SchemaRegistration,
    subjectStrategy: resolved.subjectStrategy ?? 'topic-record',
    undeclared: (resolved.undeclared ?? 'fail') as 'fail' | 'json',
  };
}

/** The registry client of the settings, or `undefined` without a registry URL. */
export function registryFrom(settings: SchemaSettings): SchemaRegistry | undefined {
  return settings.registryUrl === undefined
    ? undefined
    : new ConfluentSchemaRegistryClient({
        url: settings.registryUrl,
        ...(settings.auth === undefined ? {} : { auth: settings.auth }),
        ...(settings.ca === undefined ? {} : { ca: settings.ca }),
      });
}

/**
 * The capture encoder of the settings, or `undefined` (plain JSON) without a module.
 *
 * @throws Error naming the module when it exports no declarations.
 */
export async function captureEncoderFrom(
  settings: SchemaSettings,
  registry: SchemaRegistry | undefined = registryFrom(settings),
): Promise<RegistryEncoder | undefined> {
  if (settings.module === undefined || registry === undefined) return undefined;
  const declarations = await loadSchemaDeclarations(settings.module);
  return createRegistryEncoder({
    registry,
    catalog: new EventSchemaCatalog(declarations),
    registration: settings.registration,
    subjectNaming: subjectNameStrategy(settings.subjectStrategy),
    undeclared: settings.undeclared,
  });
}

/** The projection runtime's value decoder, or `undefined` (JSON only) without a registry. */
export function projectionDecoderFrom(settings: SchemaSettings): RecordValueDecoder | undefined {
  const registry = registryFrom(settings);
  return registry === undefined
    ? undefined
    : createRecordValueDecoder({ registry, codecs: createDefaultSchemaCodecs() });
}
