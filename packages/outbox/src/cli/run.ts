/**
 * Runs the CLI from the TypeScript sources (`node --conditions=source --import tsx
 * src/cli/run.ts capture …`), as the crash tests and the benchmark do; the published bin
 * runs the compiled `dist/cli/main.js` instead. Exits explicitly so a lingering socket of a
 * client library cannot keep a stopped capturer alive.
 */
import { main } from './main.js';

const code = await main(process.argv.slice(2));
process.exit(code);
