/**
 * `npm run demo --workspace @tributary/example-shop`: the two services in memory (their
 * own event stores and buses, connected only by the in-memory Kafka log), printed step by step.
 */
import { runShopDemo } from './scenario.js';

if (process.argv.includes('--stack')) {
  process.stderr.write(
    'The --stack mode of the shop demo is not implemented yet (see docs/reactors.md); run it without --stack.\n',
  );
  process.exitCode = 2;
} else {
  runShopDemo((line) => process.stdout.write(`${line}\n`)).then(
    () => undefined,
    (error: unknown) => {
      process.stderr.write(
        `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
