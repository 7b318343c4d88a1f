/**
 * The process entry of the `tributary` command (`bin/tributary.mjs` imports it, from the
 * sources through tsx or compiled from `dist/`). Exits explicitly so a lingering socket of
 * a client library cannot keep a stopped capturer or projection runtime alive.
 */
import { main } from './main.js';

const code = await main(process.argv.slice(2));
process.exit(code);
