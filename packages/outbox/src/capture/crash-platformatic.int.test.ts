/**
 * The crash suite of crash.int.test.ts once more, with the children on @platformatic/kafka
 * instead of kafkajs: the same kills, the same assertions, its own database and topics.
 */
import { afterAll, vi } from 'vitest';

vi.stubEnv('TRIBUTARY_KAFKA_CLIENT', 'platformatic');
afterAll(() => {
  vi.unstubAllEnvs();
});
await import('./crash.int.test.js');
