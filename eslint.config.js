// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** I/O modules that `packages/core` must never import: the core is pure (see STYLE.md §1). */
export const coreForbiddenImports = [
  'pg',
  'pg-logical-replication',
  'knex',
  'kafkajs',
  '@platformatic/kafka',
  '@kafkajs/confluent-schema-registry',
  'net',
  'node:net',
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'http',
  'node:http',
  'child_process',
  'node:child_process',
];

/** Test code: test files, their support modules and the child processes crash tests spawn. */
const TEST_FILES = ['**/*.test.ts', '**/*.test.support.ts', '**/test-support/**'];

/** Imports of another package's files instead of its public entry points. */
const deepImports = {
  group: ['@tributary/*/src', '@tributary/*/src/**', '@tributary/*/dist', '@tributary/*/dist/**'],
  message: 'Import a Tributary package by its name (its public index), never a file inside it.',
};

const forbid = (names, message) => names.map((name) => ({ name, message }));

/**
 * One `no-restricted-imports` per package. ESLint replaces (does not merge) a rule's options
 * for files that a later block matches, so each block lists everything its files may not
 * import.
 */
function packageBoundaries() {
  const kafkaLibrary = forbid(
    ['kafkajs', '@platformatic/kafka'],
    'Only the Kafka client packages (@tributary/kafkajs, @tributary/platformatic-kafka) talk to a Kafka library: use the KafkaClient port of @tributary/core.',
  );
  const testing = forbid(
    ['@tributary/testing', '@tributary/testing/vitest'],
    'Library code never depends on test helpers (only *.test.ts and test support may).',
  );
  const cli = forbid(['@tributary/cli'], 'Libraries never depend on the command line.');
  const block = (files, paths, ignores = TEST_FILES) => ({
    files,
    ignores,
    rules: { 'no-restricted-imports': ['error', { paths, patterns: [deepImports] }] },
  });
  return [
    block(['packages/*/src/**/*.ts', 'benchmarks/src/**/*.ts', 'examples/*/src/**/*.ts'], [], []),
    block(
      ['packages/core/src/**/*.ts'],
      [
        ...coreForbiddenImports.map((name) => ({
          name,
          message:
            '@tributary/core is pure: I/O adapters belong in outbox, projections or testing.',
        })),
        ...forbid(
          [
            '@tributary/outbox',
            '@tributary/projections',
            '@tributary/kafkajs',
            '@tributary/platformatic-kafka',
            '@tributary/testing',
            '@tributary/cli',
            '@tributary/metrics',
          ],
          '@tributary/core depends on no other Tributary package: it holds the ports they implement.',
        ),
        ...forbid(
          ['prom-client'],
          '@tributary/core emits instrumentation events; @tributary/metrics turns them into metrics.',
        ),
      ],
      ['packages/core/src/purity.test.ts'],
    ),
    block(
      ['packages/outbox/src/**/*.ts'],
      [
        ...forbid(['@tributary/projections'], 'outbox knows nothing of projections.'),
        ...forbid(
          ['@tributary/kafkajs', '@tributary/platformatic-kafka'],
          'The capture sink receives a KafkaClient; wiring belongs to the CLI.',
        ),
        ...kafkaLibrary,
        ...testing,
        ...cli,
      ],
    ),
    block(
      ['packages/projections/src/**/*.ts'],
      [
        ...forbid(
          ['@tributary/outbox', 'pg-logical-replication'],
          'projections knows nothing of the outbox or the WAL.',
        ),
        ...forbid(
          ['@tributary/kafkajs', '@tributary/platformatic-kafka'],
          'The runtime receives a KafkaClient; wiring belongs to the CLI.',
        ),
        ...kafkaLibrary,
        ...testing,
        ...cli,
      ],
    ),
    block(
      ['packages/kafkajs/src/**/*.ts', 'packages/platformatic-kafka/src/**/*.ts'],
      [
        ...forbid(
          ['@tributary/outbox', '@tributary/projections'],
          'A Kafka client implements the port only.',
        ),
        ...testing,
        ...cli,
      ],
    ),
    // Metrics translate instrumentation events: they read the libraries' event types and
    // never reach for a Kafka client, the command line or test helpers.
    block(
      ['packages/metrics/src/**/*.ts'],
      [
        ...forbid(['@tributary/kafkajs'], 'Metrics listen to instrumentation events only.'),
        ...kafkaLibrary,
        ...testing,
        ...cli,
      ],
    ),
    // The stack launcher probes its own broker (cluster id, warm-up, topic clean-up), like
    // pg_isready for PostgreSQL: that is server tooling, not Tributary's Kafka client.
    block(
      ['packages/testing/src/**/*.ts'],
      [...forbid(['@tributary/outbox'], 'testing sits below outbox.'), ...kafkaLibrary, ...cli],
      [...TEST_FILES, 'packages/testing/src/stack/**'],
    ),
  ];
}

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/.turbo/**',
      '**/coverage/**',
      '.tributary/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            '*.js',
            '*.ts',
            'packages/*/vitest.config.ts',
            'examples/*/vitest.config.ts',
            'benchmarks/vitest.config.ts',
            'packages/cli/bin/*.mjs',
          ],
          // One vitest.config.ts per workspace package (eleven and growing) plus the root files.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 32,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'CallExpression[callee.property.name=/^(only|skip|todo)$/][callee.object.name=/^(it|test|describe)$/]',
          message: 'Focused, skipped or todo tests must not be committed.',
        },
      ],
    },
  },
  // The direction of dependencies between packages (docs/architecture.md), enforced rather
  // than hoped for. Tests may reach further (the testing package, a real Kafka client).
  ...packageBoundaries(),
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
