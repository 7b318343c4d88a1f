/**
 * Kafka TLS and SASL settings of every command that talks to Kafka (`capture`, `project`,
 * `status`, `rebuild`, `parked`): one table of flags and environment variables, plus the
 * `kafka.tls` / `kafka.sasl` objects of capture's config file. Precedence: flags >
 * environment > file. Paths are read here, at start, so a missing or unreadable file is a
 * usage error naming the setting, not a handshake failure later. Secrets (the SASL
 * password) have no flag, because a command line is visible to every local user in `ps`.
 */
import { readFileSync } from 'node:fs';
import {
  KAFKA_SASL_MECHANISMS,
  type KafkaSasl,
  type KafkaSaslPasswordMechanism,
  type KafkaSecurityOptions,
  type KafkaTls,
} from '@tributary/core';
import { UsageError } from './output.js';

type Environment = Readonly<Record<string, string | undefined>>;

/** One security setting. */
export interface KafkaSecuritySetting {
  /** Long flag without `--`; `undefined` for secrets, which are never flags. */
  readonly flag: string | undefined;
  readonly env: string;
  /** Field of the config file's `kafka` object (capture), dotted. */
  readonly file: string;
  readonly description: string;
}

/** The settings, in help order. Defaults: plaintext, no SASL. */
export const KAFKA_SECURITY_SETTINGS = [
  {
    flag: 'kafka-ssl',
    env: 'KAFKA_SSL',
    file: 'ssl',
    description: 'TLS on (true/false); implied by any KAFKA_TLS_* setting',
  },
  {
    flag: 'kafka-tls-ca-file',
    env: 'KAFKA_TLS_CA_FILE',
    file: 'tls.caFile',
    description: "PEM CA bundle the broker certificates must chain to (default: Node's public CAs)",
  },
  {
    flag: 'kafka-tls-cert-file',
    env: 'KAFKA_TLS_CERT_FILE',
    file: 'tls.certFile',
    description: 'PEM client certificate (mutual TLS)',
  },
  {
    flag: 'kafka-tls-key-file',
    env: 'KAFKA_TLS_KEY_FILE',
    file: 'tls.keyFile',
    description: 'PEM private key of the client certificate',
  },
  {
    flag: 'kafka-tls-server-name',
    env: 'KAFKA_TLS_SERVER_NAME',
    file: 'tls.serverName',
    description: 'Name the broker certificate must carry (default: the broker host)',
  },
  {
    flag: 'kafka-sasl-mechanism',
    env: 'KAFKA_SASL_MECHANISM',
    file: 'sasl.mechanism',
    description: 'plain, scram-sha-256 or scram-sha-512 (default: no SASL)',
  },
  {
    flag: 'kafka-sasl-username',
    env: 'KAFKA_SASL_USERNAME',
    file: 'sasl.username',
    description: 'SASL user name',
  },
  {
    flag: undefined,
    env: 'KAFKA_SASL_PASSWORD',
    file: 'sasl.password',
    description: 'SASL password (environment or file only)',
  },
  {
    flag: 'kafka-sasl-password-file',
    env: 'KAFKA_SASL_PASSWORD_FILE',
    file: 'sasl.passwordFile',
    description: 'File holding the SASL password (e.g. a mounted Kubernetes Secret)',
  },
] as const satisfies readonly KafkaSecuritySetting[];

/** `parseArgs` options of the settings that have a flag. */
export const kafkaSecurityOptions: Readonly<Record<string, { type: 'string' }>> =
  Object.fromEntries(
    KAFKA_SECURITY_SETTINGS.flatMap((setting) =>
      setting.flag === undefined ? [] : [[setting.flag, { type: 'string' }]],
    ),
  );

/** Help lines of the settings. */
export const KAFKA_SECURITY_USAGE = KAFKA_SECURITY_SETTINGS.map((setting) =>
  setting.flag === undefined
    ? `  ${'(no flag)'.padEnd(34)} ${setting.description}\n  ${''.padEnd(34)} (env ${setting.env})`
    : `  --${`${setting.flag} <value>`.padEnd(32)} ${setting.description}\n  ${''.padEnd(34)} (env ${setting.env})`,
).join('\n');

/** The config file's `kafka.tls` and `kafka.sasl` (capture), as far as they are given. */
export interface KafkaSecurityFileSettings {
  readonly ssl?: unknown;
  readonly tls?: unknown;
  readonly sasl?: unknown;
}

const fileValue = (file: KafkaSecurityFileSettings, path: string): unknown => {
  const [head, tail] = path.split('.') as [keyof KafkaSecurityFileSettings, string | undefined];
  const top = file[head];
  if (tail === undefined) return top;
  return typeof top === 'object' && top !== null
    ? (top as Record<string, unknown>)[tail]
    : undefined;
};

/** Where the file's `kafka` object is, for messages. */
const FILE_SOURCE = 'the config file';

/**
 * Resolves the Kafka security options and reads the files they name.
 *
 * @param values - parsed flags
 * @param env - the environment
 * @param file - capture's config file `kafka` object (other commands have none)
 * @throws UsageError naming the flag, variable or file field of a bad value or unreadable file
 */
export function kafkaSecurityFrom(
  values: Readonly<Record<string, unknown>>,
  env: Environment,
  file: KafkaSecurityFileSettings = {},
): KafkaSecurityOptions {
  const raw = new Map<string, { value: unknown; source: string }>();
  for (const setting of KAFKA_SECURITY_SETTINGS) {
    const flagValue = setting.flag === undefined ? undefined : values[setting.flag];
    const envValue = env[setting.env];
    const fromFile = fileValue(file, setting.file);
    if (typeof flagValue === 'string' && flagValue !== '') {
      raw.set(setting.env, { value: flagValue, source: `--${setting.flag ?? ''}` });
    } else if (envValue !== undefined && envValue !== '') {
      raw.set(setting.env, { value: envValue, source: setting.env });
    } else if (fromFile !== undefined && fromFile !== '') {
      raw.set(setting.env, { value: fromFile, source: `kafka.${setting.file} in ${FILE_SOURCE}` });
    }
  }
  const text = (key: string): string | undefined => {
    const entry = raw.get(key);
    if (entry === undefined) return undefined;
    if (typeof entry.value !== 'string') {
      throw new UsageError(`${entry.source} must be a string, not ${typeof entry.value}`);
    }
    return entry.value;
  };
  const contents = (key: string, what: string): string | undefined => {
    const path = text(key);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new UsageError(
        `${raw.get(key)?.source ?? key}: cannot read the ${what} file ${path} (${reason}); fix the path or the file's permissions`,
      );
    }
  };

  const tls: { -readonly [K in keyof KafkaTls]: KafkaTls[K] } = {};
  const ca = contents('KAFKA_TLS_CA_FILE', 'CA bundle');
  const cert = contents('KAFKA_TLS_CERT_FILE', 'client certificate');
  const key = contents('KAFKA_TLS_KEY_FILE', 'private key');
  const serverName = text('KAFKA_TLS_SERVER_NAME');
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (serverName !== undefined) tls.serverName = serverName;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError(
      'KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together: set both for mutual TLS, or neither',
    );
  }
  const sslEntry = raw.get('KAFKA_SSL');
  const ssl = sslEntry === undefined ? undefined : booleanOf(sslEntry.value, sslEntry.source);
  const anyTls = Object.keys(tls).length > 0;
  if (ssl === false && anyTls) {
    throw new UsageError(
      `${sslEntry?.source ?? 'KAFKA_SSL'} is false but KAFKA_TLS_* settings are given: drop them or turn TLS on`,
    );
  }

  const sasl = saslFrom(text, contents, raw);
  return {
    ...(anyTls ? { tls } : ssl === true ? { tls: true } : {}),
    ...(sasl === undefined ? {} : { sasl }),
  };
}

function booleanOf(value: unknown, source: string): boolean {
  if (typeof value === 'boolean') return value;
  const lower = String(value).toLowerCase();
  if (['true', '1', 'yes'].includes(lower)) return true;
  if (['false', '0', 'no'].includes(lower)) return false;
  throw new UsageError(`${source} must be true or false, not ${String(value)}`);
}

function saslFrom(
  text: (key: string) => string | undefined,
  contents: (key: string, what: string) => string | undefined,
  raw: ReadonlyMap<string, { value: unknown; source: string }>,
): KafkaSasl | undefined {
  const mechanism = text('KAFKA_SASL_MECHANISM')?.toLowerCase();
  const username = text('KAFKA_SASL_USERNAME');
  const inline = text('KAFKA_SASL_PASSWORD');
  const fromFile = contents('KAFKA_SASL_PASSWORD_FILE', 'SASL password')?.replace(/\r?\n$/, '');
  if (mechanism === undefined) {
    if (username !== undefined || inline !== undefined || fromFile !== undefined) {
      throw new UsageError(
        'SASL credentials are given but no mechanism: set KAFKA_SASL_MECHANISM (plain, scram-sha-256 or scram-sha-512)',
      );
    }
    return undefined;
  }
  const source = raw.get('KAFKA_SASL_MECHANISM')?.source ?? 'KAFKA_SASL_MECHANISM';
  if (mechanism === 'oauthbearer') {
    throw new UsageError(
      `${source}: oauthbearer needs a token callback, which only the library API takes (sasl.token of the Kafka client options)`,
    );
  }
  if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new UsageError(
      `${source} must be plain, scram-sha-256 or scram-sha-512, not ${mechanism}`,
    );
  }
  if (inline !== undefined && fromFile !== undefined) {
    throw new UsageError('set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both');
  }
  const password = inline ?? fromFile;
  if (username === undefined || password === undefined || password === '') {
    throw new UsageError(
      `SASL ${mechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)`,
    );
  }
  return { mechanism: mechanism as KafkaSaslPasswordMechanism, username, password };
}
