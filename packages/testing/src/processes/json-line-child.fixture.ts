/**
 * The child of `json-line-child.test.ts`: a runtime that does nothing until SIGTERM, or
 * fails at once when `FAIL` is set; `NAME` is required.
 */
import { printJsonLine, requiredEnv, serveUntilTerminated } from './json-line-child.js';

const name = requiredEnv('NAME');
let fail: (error: Error) => void = () => undefined;
const stopped = new Promise<void>((_resolve, reject) => {
  fail = reject;
});
// Keeps the process alive, as a real runtime's connections do.
let alive: NodeJS.Timeout | undefined;
await serveUntilTerminated(
  {
    start: () => {
      alive = setInterval(() => undefined, 1_000);
      return Promise.resolve();
    },
    stop: () => {
      clearInterval(alive);
      return Promise.resolve();
    },
    stopped,
  },
  () => {
    printJsonLine({ event: 'closed', name });
    return Promise.resolve();
  },
);
if (process.env['FAIL'] === '1') fail(new Error('boom'));
