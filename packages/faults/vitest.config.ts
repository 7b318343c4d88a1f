import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '../../vitest.shared.js';

const shared = sharedProjectConfig(import.meta.dirname);

/*
 * The fault matrix stops, freezes and restarts the stack's shared PostgreSQL and Kafka, which
 * every other integration file uses: it runs after all of them (a later group), alone.
 */
export default defineProject({
  ...shared,
  test: { ...shared.test, sequence: { groupOrder: 1 }, maxWorkers: 1 },
});
