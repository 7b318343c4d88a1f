/**
 * @packageDocumentation
 * The `tributary` command (bin `tributary`): `migrate`, `capture`, `schemas`, `project`,
 * `status`, `rebuild` and `parked`, with their flags, environment variables and config
 * files, wired to the default adapters of `@tributary/outbox` and `@tributary/projections`.
 * A library user never needs this package; it exists for operators and for tools that
 * start the command's pieces themselves (the benchmarks read capture settings the same way).
 */
export { main } from './main.js';
export type { CliOutput } from './output.js';
export { captureCommand, CAPTURE_USAGE, type CaptureCommandHooks } from './capture/command.js';
export {
  CAPTURE_ENVIRONMENT,
  captureConfigFromEnvironment,
  mergeCaptureConfigInputs,
  readCaptureConfigFile,
} from './capture/environment.js';
export { captureKafkaClient } from './capture/kafka-client.js';
export {
  createKafkaClient,
  DEFAULT_KAFKA_CLIENT,
  KAFKA_CLIENT_ENV,
  KAFKA_CLIENT_NAMES,
  kafkaClientName,
  type KafkaClientName,
  type KafkaConnectionSettings,
} from './kafka-client.js';
export { schemasCommand, loadSchemaDeclarations, SCHEMAS_USAGE } from './schemas/command.js';
export { projectionCommand, PROJECTION_USAGE, formatProgress } from './projections/commands.js';
export { loadProjectionsModule, type LoadedProjectionsModule } from './projections/module.js';
export {
  PROJECTION_RUNTIME_SETTINGS,
  projectionRuntimeConfigFrom,
  type ProjectionRuntimeSetting,
} from './projections/settings.js';
