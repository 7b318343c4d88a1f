import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

async function lintCoreSource(code: string): Promise<string[]> {
  return lintSource('packages/core/src/purity-probe.ts', code);
}

async function lintSource(path: string, code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: repositoryRoot,
    // The file below does not exist on disk, so type information is unavailable; the purity
    // rule does not need it, so type-aware rules are switched off for this check only.
    overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }],
  });
  const [result] = await eslint.lintText(code, {
    filePath: `${repositoryRoot}${path}`,
  });
  return (result?.messages ?? []).map(
    (message) => `${message.ruleId ?? 'fatal'}: ${message.message}`,
  );
}

describe('packages/core purity', () => {
  for (const moduleName of ['pg', 'knex', 'kafkajs', 'node:net', 'net', 'pg-logical-replication']) {
    it(`fails lint when a core source file imports ${moduleName}`, async () => {
      const messages = await lintCoreSource(
        `import x from '${moduleName}';\nexport const y = x;\n`,
      );
      expect(messages.some((message) => message.startsWith('no-restricted-imports'))).toBe(true);
    });
  }

  it('passes lint for a core source file without I/O imports', async () => {
    const messages = await lintCoreSource(`import { v7 } from 'uuid';\nexport const id = v7();\n`);
    expect(messages).toEqual([]);
  });
});

describe('package boundaries', () => {
  const restricted = async (path: string, specifier: string): Promise<boolean> =>
    (
      await lintSource(path, `import * as probe from '${specifier}';\nexport const x = probe;\n`)
    ).some((message) => message.startsWith('no-restricted-imports'));

  it.each([
    ['packages/core/src/probe.ts', '@tributary/outbox'],
    ['packages/outbox/src/probe.ts', '@tributary/projections'],
    ['packages/outbox/src/probe.ts', 'kafkajs'],
    ['packages/outbox/src/probe.ts', '@platformatic/kafka'],
    ['packages/outbox/src/probe.ts', '@tributary/testing'],
    ['packages/projections/src/probe.ts', '@tributary/outbox'],
    ['packages/projections/src/probe.ts', '@tributary/kafkajs'],
    ['packages/projections/src/probe.ts', '@tributary/platformatic-kafka'],
    ['packages/projections/src/probe.ts', '@tributary/cli'],
    ['packages/core/src/probe.ts', '@tributary/metrics'],
    ['packages/core/src/probe.ts', 'prom-client'],
    ['packages/metrics/src/probe.ts', '@tributary/kafkajs'],
    ['packages/metrics/src/probe.ts', '@tributary/cli'],
    ['packages/cli/src/probe.ts', '@tributary/outbox/src/config.js'],
  ])('%s may not import %s', async (path, specifier) => {
    expect(await restricted(path, specifier)).toBe(true);
  });

  it.each([
    ['packages/outbox/src/capture/probe.test.ts', '@tributary/testing'],
    ['packages/kafkajs/src/probe.ts', 'kafkajs'],
    ['packages/platformatic-kafka/src/probe.ts', '@platformatic/kafka'],
    ['packages/cli/src/probe.ts', '@tributary/platformatic-kafka'],
    ['packages/cli/src/probe.ts', '@tributary/kafkajs'],
    ['packages/projections/src/probe.ts', '@tributary/core'],
  ])('%s may import %s', async (path, specifier) => {
    expect(await restricted(path, specifier)).toBe(false);
  });
});
