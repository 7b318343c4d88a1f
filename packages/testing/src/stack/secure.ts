/**
 * The secured local stack (`npm run stack:up -- --secure`): PostgreSQL with TLS and
 * scram-sha-256 password authentication on `hostssl` only, and a Kafka broker with a
 * SASL_SSL listener (SCRAM-SHA-256/512 and PLAIN users) and the StandardAuthorizer, so
 * ACLs are enforced. It is its own stack (`.tributary/stack.secure.json`, its own ports and
 * run directory) and leaves the plain stack the tests use alone.
 *
 * The broker keeps its PLAINTEXT listener on loopback for the launcher itself (health
 * probes, creating SCRAM users and ACLs): its principal, `ANONYMOUS`, is a super user. The
 * listener clients are meant to use is the SASL_SSL one in {@link SecureStackInfo.kafkaBrokers}.
 * The SASL_SSL listener is the launcher's second listener (named `PROXIED` in the broker
 * configuration, whose protocol is switched to SASL_SSL), so the broker setup is shared with
 * the plain stack. A third listener, `MTLS` (SSL with `ssl.client.auth=required`), admits
 * clients by certificate: CN = the user name, mapped to `User:<CN>` so the same ACLs apply.
 * PostgreSQL admits `tributary_capture` by client certificate only (`cert`), every other role
 * by password. The schema registry serves HTTPS only, with the stack CA, and HTTP basic
 * authentication (Quarkus' embedded users: no Keycloak needed).
 */
import { randomBytes, pbkdf2Sync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alterUserScramCredentialsV0, Connection } from '@platformatic/kafka';
import kafkajs, { Kafka, logLevel, type Admin } from 'kafkajs';
import { generateStackCertificates, type StackCertificates } from './certificates.js';
import { resolveStackConfig } from './config.js';
import { StackError } from './errors.js';
import { stopStack, upStack, type StartStackOptions } from './launcher.js';
import { lookupRunAs, queryOnce } from './postgres.js';
import { findFreePort } from './processes.js';
import {
  readState,
  removeState,
  stateDir,
  stateFile,
  writeState,
  type StackState,
} from './state.js';

/** Name of the secured stack's state file (`.tributary/stack.secure.json`). */
export const SECURE_STACK_NAME = 'secure';

/** The Kafka users the secured broker knows (SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN). */
export const SECURE_KAFKA_USERS = [
  'admin',
  'tributary_app',
  'tributary_capture',
  'tributary_projections',
  'tributary_intruder',
] as const;

/** A user of {@link SECURE_KAFKA_USERS}. */
export type SecureKafkaUser = (typeof SECURE_KAFKA_USERS)[number];

/** The schema registry's basic-auth user. */
export const SECURE_REGISTRY_USER = 'tributary_registry';

/** The PostgreSQL role that authenticates by client certificate (`cert` in pg_hba.conf). */
export const SECURE_CERTIFICATE_ROLE = 'tributary_capture';

/** How tests reach the secured servers. Passwords are random per start. */
export interface SecureStackInfo {
  /** The PostgreSQL superuser over TLS (`sslmode=verify-full`, the stack CA). */
  readonly databaseUrl: string;
  /** The SASL_SSL listener. */
  readonly kafkaBrokers: readonly string[];
  /**
   * The SSL listener that requires a client certificate signed by the stack CA
   * ({@link StackCertificates.clients}); principal `User:<CN>`.
   */
  readonly kafkaMtlsBrokers: readonly string[];
  /** The registry's Confluent-compatible API over HTTPS (stack CA), no plaintext port. */
  readonly schemaRegistryUrl: string;
  /** The registry's HTTP basic-auth user ({@link SECURE_REGISTRY_USER}) and its password. */
  readonly registryCredentials: { readonly username: string; readonly password: string };
  /** The launcher's own PLAINTEXT listener; its anonymous principal is a super user. */
  readonly kafkaAdminBrokers: readonly string[];
  readonly certificates: StackCertificates;
  /** Password of each Kafka user. */
  readonly kafkaPasswords: Readonly<Record<SecureKafkaUser, string>>;
}

/** A secured stack's state file: a stack state plus {@link SecureStackInfo}. */
export interface SecureStackState extends StackState {
  readonly secure: SecureStackInfo;
}

/** Result of {@link upSecureStack}. */
export interface SecureUpResult {
  readonly state: SecureStackState;
  readonly stateFile: string;
  readonly reused: boolean;
}

const password = (): string => randomBytes(18).toString('base64url');

const brokerSecurityProperties = (
  certificates: StackCertificates,
  passwords: Readonly<Record<SecureKafkaUser, string>>,
): string[] => {
  const plainUsers = SECURE_KAFKA_USERS.map((user) => `user_${user}="${passwords[user]}"`).join(
    ' ',
  );
  return [
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:SASL_SSL,MTLS:SSL',
    'listener.name.proxied.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
    'listener.name.proxied.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.proxied.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    `listener.name.proxied.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    'listener.name.proxied.ssl.keystore.type=PEM',
    `listener.name.proxied.ssl.keystore.location=${certificates.serverKeystoreFile}`,
    'listener.name.mtls.ssl.keystore.type=PEM',
    `listener.name.mtls.ssl.keystore.location=${certificates.serverKeystoreFile}`,
    'listener.name.mtls.ssl.truststore.type=PEM',
    `listener.name.mtls.ssl.truststore.location=${certificates.caFile}`,
    'listener.name.mtls.ssl.client.auth=required',
    // The principal of a certificate is its whole subject (`User:CN=tributary_capture`);
    // the rule keeps the CN, so ACLs name the same users as on the SASL listener.
    'ssl.principal.mapping.rules=RULE:^CN=([^,]+)$/$1/,DEFAULT',
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users=User:ANONYMOUS;User:admin',
    'allow.everyone.if.no.acl.found=false',
  ];
};

/**
 * Starts the secured stack (or reuses a healthy one) and prepares it: TLS and password
 * authentication on PostgreSQL, SCRAM users on Kafka.
 */
export async function upSecureStack(options: StartStackOptions = {}): Promise<SecureUpResult> {
  const config = resolveStackConfig(options);
  const log = options.log ?? ((): void => undefined);
  const certificates = await existingOrNewCertificates(config.repoRoot);
  const port = await findFreePort();
  const mtlsPort = await findFreePort();
  const registryCredentials = { username: SECURE_REGISTRY_USER, password: password() };
  const passwords = Object.fromEntries(
    SECURE_KAFKA_USERS.map((user) => [user, password()]),
  ) as Record<SecureKafkaUser, string>;
  const result = await upStack({
    ...options,
    name: SECURE_STACK_NAME,
    services: ['postgres', 'kafka', 'registry'],
    registry: {
      ...options.registry,
      tls: {
        certFile: certificates.serverCertFile,
        keyFile: certificates.serverKeyFile,
        caFile: certificates.caFile,
      },
      basicAuth: registryCredentials,
    },
    kafka: {
      ...options.kafka,
      proxiedListener: { port, advertisedPort: port },
      extraListeners: [...(options.kafka?.extraListeners ?? []), { name: 'MTLS', port: mtlsPort }],
      extraProperties: [
        ...(options.kafka?.extraProperties ?? []),
        ...brokerSecurityProperties(certificates, passwords),
      ],
    },
  });
  const existing = result.state as Partial<SecureStackState>;
  if (result.reused && existing.secure?.registryCredentials !== undefined) {
    return { state: existing as SecureStackState, stateFile: result.stateFile, reused: true };
  }
  if (result.reused) {
    throw new StackError(
      'STACK_START_FAILED',
      `${result.stateFile} records a stack that was never secured (or secured by an older launcher, without client certificates); run \`npm run stack:down\` and start again`,
      false,
    );
  }
  const state = result.state;
  const kafkaAdminBrokers = state.kafkaBrokers ?? [];
  let databaseUrl: string;
  try {
    log('secure: PostgreSQL TLS and hostssl scram-sha-256');
    databaseUrl = await securePostgres(state, certificates, config.postgres.osUserWhenRoot);
    log('secure: Kafka SCRAM users');
    await createScramUsers(kafkaAdminBrokers, passwords);
  } catch (error) {
    // Half-secured servers must not be reused: stop them and forget the state.
    await stopStack(state, options);
    await removeState(result.stateFile);
    throw error;
  }
  const secure: SecureStackInfo = {
    databaseUrl,
    kafkaBrokers: [`127.0.0.1:${port}`],
    kafkaMtlsBrokers: [`127.0.0.1:${mtlsPort}`],
    schemaRegistryUrl: state.schemaRegistryUrl ?? '',
    registryCredentials,
    kafkaAdminBrokers,
    certificates,
    kafkaPasswords: passwords,
  };
  // The health probes of `stack:status` and of the next `up` connect with these.
  const secured: SecureStackState = { ...state, databaseUrl, secure };
  await writeState(result.stateFile, secured);
  return { state: secured, stateFile: result.stateFile, reused: false };
}

/** The certificates of a recorded secured stack (it may be reused), else new ones. */
async function existingOrNewCertificates(repoRoot: string): Promise<StackCertificates> {
  const recorded = (await readState(stateFile(repoRoot, SECURE_STACK_NAME))) as
    Partial<SecureStackState> | undefined;
  const certificates = recorded?.secure?.certificates;
  if (certificates?.clients !== undefined && existsSync(certificates.caFile)) return certificates;
  return generateStackCertificates(join(stateDir(repoRoot), 'secure-certificates'));
}

/**
 * Turns TLS on (a reload suffices since PostgreSQL 10) and replaces pg_hba.conf with
 * `hostssl` lines only: {@link SECURE_CERTIFICATE_ROLE} by client certificate (`cert`, which
 * is clientcert=verify-full: signed by `ssl_ca_file`, CN = the role), everyone else by
 * scram-sha-256; then waits until a TLS connection works.
 *
 * @returns the superuser URL over TLS
 */
async function securePostgres(
  state: StackState,
  certificates: StackCertificates,
  osUserWhenRoot: string,
): Promise<string> {
  const plainUrl = state.databaseUrl;
  const dataDir = state.services.postgres?.dataDir;
  if (plainUrl === undefined || dataDir === undefined) {
    throw new StackError('STACK_START_FAILED', 'the secured stack has no PostgreSQL', false);
  }
  // PostgreSQL insists on owning its key, readable by nobody else.
  const runAs = await lookupRunAs(osUserWhenRoot);
  const cert = join(dataDir, 'server.crt');
  const key = join(dataDir, 'server.key');
  const ca = join(dataDir, 'ca.crt');
  await copyFile(certificates.serverCertFile, cert);
  await copyFile(certificates.caFile, ca);
  await writeFile(key, await readFile(certificates.serverKeyFile), { mode: 0o600 });
  if (runAs !== undefined) {
    for (const path of [cert, key, ca]) await chown(path, runAs.uid, runAs.gid);
  }
  const conf = join(dataDir, 'postgresql.conf');
  await writeFile(
    conf,
    `${await readFile(conf, 'utf8')}\n# Secured stack\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n`,
  );
  await writeFile(
    join(dataDir, 'pg_hba.conf'),
    [
      '# Secured stack: TLS only; one role by client certificate, the others by password',
      // A logical replication connection matches its database, not `replication`.
      `hostssl all ${SECURE_CERTIFICATE_ROLE} 127.0.0.1/32 cert`,
      `hostssl replication ${SECURE_CERTIFICATE_ROLE} 127.0.0.1/32 cert`,
      'hostssl all all 127.0.0.1/32 scram-sha-256',
      'hostssl replication all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  await queryOnce(plainUrl, 'select pg_reload_conf()');
  const url = new URL(plainUrl);
  url.searchParams.set('sslmode', 'verify-full');
  url.searchParams.set('sslrootcert', certificates.caFile);
  const tlsUrl = url.toString();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const rows = await queryOnce<{ ssl: boolean }>(
        tlsUrl,
        'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
      );
      if (rows[0]?.ssl === true) break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return tlsUrl;
}

/** SCRAM-SHA-256 and -512 credentials of every user, through the admin listener. */
async function createScramUsers(
  brokers: readonly string[],
  passwords: Readonly<Record<SecureKafkaUser, string>>,
): Promise<void> {
  const [host, port] = (brokers[0] ?? '').split(':');
  const connection = new Connection('tributary-stack-secure');
  await connection.connect(host ?? '127.0.0.1', Number(port));
  try {
    const iterations = 4096;
    // The broker refuses a request that names a user twice (DUPLICATE_RESOURCE): one
    // request per mechanism.
    for (const [mechanism, digest, length] of [
      [1, 'sha256', 32],
      [2, 'sha512', 64],
    ] as const) {
      const upsertions = SECURE_KAFKA_USERS.map((name) => {
        const salt = randomBytes(16);
        return {
          name,
          mechanism,
          iterations,
          salt,
          saltedPassword: pbkdf2Sync(passwords[name], salt, iterations, length, digest),
        };
      });
      try {
        await alterUserScramCredentialsV0.api.async(connection, [], upsertions);
      } catch (error) {
        throw new StackError(
          'STACK_START_FAILED',
          `creating SCRAM users failed: ${JSON.stringify((error as { errors?: unknown }).errors ?? String(error))}`,
          false,
          { cause: error },
        );
      }
    }
  } finally {
    await connection.close();
  }
}

// kafkajs is CommonJS and Node's named-export detection misses its ACL enums.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

const OPERATIONS: Readonly<Record<string, kafkajs.AclOperationTypes>> = {
  Read: AclOperationTypes.READ,
  Write: AclOperationTypes.WRITE,
  Create: AclOperationTypes.CREATE,
  Describe: AclOperationTypes.DESCRIBE,
  DescribeConfigs: AclOperationTypes.DESCRIBE_CONFIGS,
  IdempotentWrite: AclOperationTypes.IDEMPOTENT_WRITE,
  Alter: AclOperationTypes.ALTER,
  Delete: AclOperationTypes.DELETE,
};

/**
 * Applies `kafka-acls.sh --add` commands (what `tributary grants --kafka` prints) through
 * the secured broker's admin listener, so tests grant exactly the printed ACLs.
 *
 * @returns how many ACL bindings were created
 * @throws Error for a command line it does not understand
 */
export async function applyKafkaAcls(
  adminBrokers: readonly string[],
  commands: string,
): Promise<number> {
  const creations: Parameters<Admin['createAcls']>[0]['acl'] = [];
  for (const line of commands.split('\n')) {
    if (!line.startsWith('kafka-acls.sh')) continue;
    const words = line.split(/\s+/);
    const value = (flag: string): string | undefined => words[words.indexOf(flag) + 1];
    const principal = value('--allow-principal');
    const operations = words.flatMap((word, index) =>
      word === '--operation' ? [words[index + 1] ?? ''] : [],
    );
    const prefixed = value('--resource-pattern-type') === 'prefixed';
    const [resourceType, resourceName] = words.includes('--cluster')
      ? [AclResourceTypes.CLUSTER, 'kafka-cluster']
      : words.includes('--topic')
        ? [AclResourceTypes.TOPIC, value('--topic')]
        : words.includes('--group')
          ? [AclResourceTypes.GROUP, value('--group')]
          : [AclResourceTypes.TRANSACTIONAL_ID, value('--transactional-id')];
    if (principal === undefined || resourceName === undefined || operations.length === 0) {
      throw new Error(`not an ACL command this helper understands: ${line}`);
    }
    for (const name of operations) {
      const operation = OPERATIONS[name];
      if (operation === undefined) throw new Error(`unknown ACL operation ${name} in: ${line}`);
      creations.push({
        resourceType,
        resourceName,
        resourcePatternType: prefixed
          ? ResourcePatternTypes.PREFIXED
          : ResourcePatternTypes.LITERAL,
        principal,
        host: '*',
        operation,
        permissionType: AclPermissionTypes.ALLOW,
      });
    }
  }
  const admin = new Kafka({
    clientId: 'tributary-stack-acls',
    brokers: [...adminBrokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.createAcls({ acl: creations });
  } finally {
    await admin.disconnect();
  }
  return creations.length;
}
