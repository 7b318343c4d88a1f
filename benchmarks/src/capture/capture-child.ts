/**
 * The capturer process of `npm run bench:capture`: a capturer configured from the
 * environment (like `tributary capture`) that reports each committed batch as a JSON line
 * on stdout, so the benchmark can measure rates and commit-to-Kafka latency (its CPU and
 * memory are read from /proc by the benchmark). The Kafka client is chosen as `tributary
 * capture` chooses it: `--kafka-client <name>`, else TRIBUTARY_KAFKA_CLIENT, else the
 * default. With BENCH_CHILD_METRICS=1 it also keeps the Prometheus capture metrics and renders them
 * once a second, as a scraped `tributary capture` does. With BENCH_CPU_PROFILE=<file> it
 * profiles its main thread (V8 CPU profile) from the checkpoint load to SIGTERM, i.e. the
 * drain without the start-up, and writes the profile there.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import {
  captureConfigFromEnvironment,
  captureKafkaClient,
  KAFKA_CLIENT_ENV,
  kafkaClientName,
} from '@tributary/cli';
import { createConsoleLogger } from '@tributary/core';
import { createCaptureMetrics } from '@tributary/metrics';
import { createPostgresKafkaCapturer, resolveCaptureConfig } from '@tributary/outbox';
import { Registry } from 'prom-client';

const { values } = parseArgs({ options: { 'kafka-client': { type: 'string' } } });
const client = kafkaClientName(
  { value: values['kafka-client'], source: '--kafka-client' },
  { value: process.env[KAFKA_CLIENT_ENV], source: KAFKA_CLIENT_ENV },
);
const config = resolveCaptureConfig(captureConfigFromEnvironment());
const logger = createConsoleLogger({ level: 'warn' });
const capturer = createPostgresKafkaCapturer({
  config,
  kafka: captureKafkaClient(config, logger, client),
  logger,
});
if (process.env.BENCH_CHILD_METRICS === '1') {
  const registry = new Registry();
  createCaptureMetrics({ registry, instrumentation: capturer.instrumentation });
  setInterval(() => void registry.metrics(), 1_000).unref();
}
const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};
const profileFile = process.env.BENCH_CPU_PROFILE;
const profiler = profileFile === undefined ? undefined : new Session();
let profiling: Promise<void> | undefined;
capturer.instrumentation.on('capture.checkpoint.loaded', () => {
  if (profiler !== undefined && profiling === undefined) {
    profiler.connect();
    profiling = profiler.post('Profiler.enable').then(() => profiler.post('Profiler.start'));
  }
  print({ type: 'ready', at: Date.now() });
});
async function writeProfile(): Promise<void> {
  if (profiler === undefined || profiling === undefined || profileFile === undefined) return;
  await profiling;
  const { profile } = await profiler.post('Profiler.stop');
  writeFileSync(profileFile, JSON.stringify(profile));
  profiler.disconnect();
}
capturer.instrumentation.on('capture.batch.committed', (batch) => {
  // Latency of each source transaction: Kafka commit (this clock) minus PostgreSQL commit
  // (the server's clock; same machine).
  const latencies = batch.commitTimesMicros.map(
    (micros) => batch.committedAtMs - Number(micros / 1000n),
  );
  print({
    type: 'batch',
    at: batch.committedAtMs,
    events: batch.events,
    transactions: batch.transactions,
    durationMs: batch.durationMs,
    latencies,
    eventsPerTransaction: batch.eventsPerTransaction,
  });
});
process.once('SIGTERM', () => {
  void writeProfile()
    .catch((error: unknown) => {
      process.stderr.write(`writing the CPU profile failed: ${String(error)}\n`);
    })
    .finally(() => capturer.stop());
});
try {
  await capturer.run();
  process.exit(0);
} catch (error) {
  process.stderr.write(`capturer failed: ${String(error)}\n`);
  process.exit(1);
}
