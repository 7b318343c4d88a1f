/**
 * The keys a `tributary capture` config file accepts, derived from the capturer's defaults
 * where it has them (so a setting added there is accepted here without a second list) plus
 * the settings without a default and the CLI's own sections (`metrics`, `schemas`,
 * `kafka.client`, `kafka.tls`, `kafka.sasl`).
 */
import {
  captureDefaults,
  CaptureError,
  defaultOutboxConfig,
  defaultRouterConfig,
} from '@tributary/outbox';
import {
  describeUnknownConfigKeys,
  unknownConfigKeys,
  type ConfigShape,
} from '../config/known-keys.js';
import { SCHEMA_FILE_SHAPE } from '../schemas/settings.js';

const values = (...keys: readonly string[]): Record<string, 'value'> =>
  Object.fromEntries(keys.map((key) => [key, 'value' as const]));

const scalars = (object: object): Record<string, 'value'> =>
  values(
    ...Object.entries(object)
      .filter(([, value]) => typeof value !== 'object' || value === null)
      .map(([key]) => key),
  );

/** Shape of a capture config file. */
export const CAPTURE_FILE_SHAPE: ConfigShape = {
  ...scalars(captureDefaults),
  ...values('name', 'databaseUrl'),
  outbox: scalars(defaultOutboxConfig),
  slot: values('name', 'publication', 'create', 'createPublication'),
  kafka: {
    ...scalars(captureDefaults.kafka),
    ...values('brokers', 'clientId', 'client'),
    // Read by the CLI's Kafka security settings (kafka-security.ts), which have no defaults.
    tls: values('caFile', 'certFile', 'keyFile', 'serverName'),
    sasl: values('mechanism', 'username', 'password', 'passwordFile'),
  },
  topics: scalars(captureDefaults.topics),
  router: {
    ...scalars(defaultRouterConfig),
    columns: scalars(defaultRouterConfig.columns),
    additionalHeaders: 'map',
  },
  batch: scalars(captureDefaults.batch),
  metrics: values('port', 'host'),
  schemas: SCHEMA_FILE_SHAPE,
};

/**
 * @throws CaptureError `CAPTURE_CONFIG_INVALID` naming every unknown key of the file and the
 * closest valid key.
 */
export function assertKnownCaptureKeys(file: unknown, path: string): void {
  const unknown = unknownConfigKeys(file, CAPTURE_FILE_SHAPE);
  if (unknown.length > 0) {
    throw new CaptureError(
      'CAPTURE_CONFIG_INVALID',
      `Config file ${path}: ${describeUnknownConfigKeys(unknown)}. Every key must be a setting (docs/capture.md).`,
    );
  }
}
