#!/usr/bin/env node
// The `tributary` command, in this process (no wrapper process: signals reach the command
// directly and its exit code is the process's).
//
// In a checkout (src/ present) it runs the TypeScript sources through tsx, so the command
// works right after `npm ci` and never runs a stale build; an installed package (dist/ only)
// runs the compiled JavaScript. tsx is registered in both cases so that a `--module` written
// in TypeScript loads too. resolve-hooks.mjs lets the sources' workspace packages resolve to
// their own sources, and lets a user module outside any project import @tributary/* by name.
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { register as registerTypeScript } from 'tsx/esm/api';

const sources = import.meta.resolve('../src/run.ts');
const fromSources = existsSync(fileURLToPath(sources));
registerTypeScript();
// Registered after tsx, so it runs first and hands tsx the adjusted request.
register('./resolve-hooks.mjs', import.meta.url, {
  data: { sourceCondition: fromSources, fallbackParentURL: import.meta.url },
});
await import(fromSources ? sources : import.meta.resolve('../dist/run.js'));
