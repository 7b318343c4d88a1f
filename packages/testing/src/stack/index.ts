/**
 * The local real stack (PostgreSQL, Kafka, schema registry): a launcher usable as a
 * library and through `npm run stack:up | stack:down | stack:status`, and the helpers
 * integration tests use to get their own database and topic namespace on it.
 */
export {
  EXTERNAL_SERVER_ENV,
  STACK_SERVICES,
  findRepoRoot,
  resolveStackConfig,
  type KafkaConfig,
  type PostgresConfig,
  type RegistryConfig,
  type StackConfig,
  type StackConfigOptions,
  type StackService,
} from './config.js';
export { StackError, isStackError, type StackErrorCode } from './errors.js';
export {
  clusterNodeProperties,
  clusterReplication,
  kafkaNodeIdOf,
  killKafkaNode,
  startKafkaNode,
} from './cluster.js';
export { brokersFlag, clusterStackOptions } from './cluster-cli.js';
export {
  checkStackHealth,
  connectionOf,
  downStack,
  exportLine,
  stackStatus,
  startStack,
  stopStack,
  upStack,
  type DownResult,
  type ServiceHealth,
  type StackStatus,
  type StartStackOptions,
  type UpResult,
} from './launcher.js';
export {
  ensureMavenLibraries,
  mavenLibrariesPom,
  type MavenArtifact,
  type MavenLibraries,
  type MavenLibrariesOptions,
} from './downloads.js';
export { findFreePort, type ManagedProcess } from './processes.js';
export {
  freezeServer,
  killKafkaServer,
  startKafkaServer,
  startPostgresServer,
  stopPostgresServer,
  thawServer,
  type PostgresStopMode,
} from './server-control.js';
export {
  readState,
  removeState,
  stateFile,
  writeState,
  type KafkaNodeState,
  type ServiceState,
  type StackConnection,
  type StackState,
} from './state.js';
export {
  PROVIDED_STACK_KEY,
  stackConnection,
  useIntegrationEnv,
  type IntegrationEnv,
  type IntegrationEnvOptions,
} from './integration-env.js';
export {
  generateStackCertificates,
  STACK_CLIENT_CERTIFICATE_NAMES,
  type ClientCertificate,
  type StackCertificates,
  type StackClientCertificateName,
} from './certificates.js';
export {
  applyKafkaAcls,
  SECURE_CERTIFICATE_ROLE,
  SECURE_REGISTRY_USER,
  SECURE_KAFKA_USERS,
  SECURE_STACK_NAME,
  upSecureStack,
  type SecureKafkaUser,
  type SecureStackInfo,
  type SecureStackState,
  type SecureUpResult,
} from './secure.js';
