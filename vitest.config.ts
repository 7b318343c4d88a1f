import { defineConfig } from 'vitest/config';

/**
 * The whole test run: every workspace package is a vitest project, so one run (and one
 * real local stack for the integration tiers) covers the repository.
 *
 * Two test files run at a time: most integration files wait on PostgreSQL and Kafka rather
 * than on the CPU, and each works in its own database and topic namespace of the shared
 * stack, so a second worker nearly halves the wall time on a 2-core machine. The one suite
 * that stops, freezes and restarts the shared servers themselves (`@tributary/faults`, the
 * fault matrix) runs alone afterwards (`sequence.groupOrder: 1` in its project).
 */
export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*', 'benchmarks'],
    maxWorkers: 2,
  },
});
