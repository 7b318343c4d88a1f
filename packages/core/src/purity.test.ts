import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

async function lintCoreSource(code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: repositoryRoot,
    // The file below does not exist on disk, so type information is unavailable; the purity
    // rule does not need it, so type-aware rules are switched off for this check only.
    overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }],
  });
  const [result] = await eslint.lintText(code, {
    filePath: `${repositoryRoot}packages/core/src/purity-probe.ts`,
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
