import { defineConfig } from 'vitest/config';

/**
 * The whole test run: every workspace package is a vitest project, so one run (and one
 * real local stack for the integration tiers) covers the repository.
 */
export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*'],
  },
});
