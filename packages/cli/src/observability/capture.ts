import type { Logger } from '@tributary/core';
import { createCaptureMetrics } from '@tributary/metrics';
import type { Capturer } from '@tributary/outbox';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startObservabilityServer, type ObservabilityServer } from './server.js';
import type { ObservabilitySettings } from './settings.js';

/**
 * Serves the capturer's metrics and health. Live until the capturer stopped; ready while it
 * streams (slot held, producer connected and fenced, checkpoint read) or stands by for the
 * slot (a healthy standby is doing its job: waiting to take over).
 */
export async function serveCaptureObservability(
  settings: ObservabilitySettings,
  capturer: Capturer,
  logger: Logger,
): Promise<ObservabilityServer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  createCaptureMetrics({ registry, instrumentation: capturer.instrumentation });
  return startObservabilityServer({
    port: settings.port,
    host: settings.host,
    registry,
    logger,
    live: () => ({ ok: capturer.state !== 'stopped', status: capturer.state }),
    ready: () => {
      const state = capturer.state;
      const ok = state === 'streaming' || state === 'standby';
      return Promise.resolve({
        ok,
        status: state,
        ...(ok ? {} : { reasons: [`the capturer is ${state}, neither streaming nor standing by`] }),
      });
    },
  });
}
