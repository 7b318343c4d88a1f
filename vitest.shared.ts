import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import type { UserWorkspaceConfig } from 'vitest/config';

const packageSource = (path: string): string =>
  fileURLToPath(new URL(`./${path}/src/index.ts`, import.meta.url));

/**
 * One vitest configuration for every workspace package.
 *
 * - SWC transforms the sources so `emitDecoratorMetadata` works in tests (esbuild, vitest's
 *   default, drops decorator metadata, which tsyringe constructor injection needs).
 * - Workspace packages resolve to their TypeScript sources, so tests never need a build.
 * - Unit tests are `*.test.ts`; integration tests (`*.int.test.ts`) and end-to-end tests
 *   (`*.e2e.test.ts`) follow the same pattern and share this configuration.
 * - The real-stack global setup is registered for every project, but only acts when the run
 *   selected integration or end-to-end files, and starts one stack for the whole run however
 *   many projects need it (see packages/testing/src/stack/vitest-global-setup.ts).
 */
export function sharedProjectConfig(root: string): UserWorkspaceConfig {
  return {
    root,
    plugins: [swc.vite({ module: { type: 'es6' } })],
    resolve: {
      alias: {
        '@tributary/core': packageSource('packages/core'),
        '@tributary/testing/vitest': fileURLToPath(
          new URL('./packages/testing/src/contracts/index.ts', import.meta.url),
        ),
        '@tributary/testing': packageSource('packages/testing'),
        '@tributary/outbox': packageSource('packages/outbox'),
        '@tributary/projections': packageSource('packages/projections'),
        '@tributary/reactors': packageSource('packages/reactors'),
        '@tributary/kafkajs': packageSource('packages/kafkajs'),
        '@tributary/metrics': packageSource('packages/metrics'),
        '@tributary/platformatic-kafka': packageSource('packages/platformatic-kafka'),
        '@tributary/cli': packageSource('packages/cli'),
      },
    },
    test: {
      include: ['src/**/*.test.ts'],
      globalSetup: [
        fileURLToPath(
          new URL('./packages/testing/src/stack/vitest-global-setup.ts', import.meta.url),
        ),
      ],
      environment: 'node',
      testTimeout: 20_000,
      passWithNoTests: true,
    },
  };
}
