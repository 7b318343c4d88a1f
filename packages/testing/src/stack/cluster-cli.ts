/**
 * The `--brokers <n>` flag of `stack:up`: a multi-broker stack is a stack of its own
 * (`.tributary/stack.brokers-<n>.json`, its own ports and run dir), so it never replaces the
 * single-broker stack the integration tests reuse.
 */
import type { StartStackOptions } from './launcher.js';
import { StackError } from './errors.js';

/**
 * Reads `--brokers <n>` / `--brokers=<n>` from the arguments after the command.
 *
 * @throws StackError `STACK_CONFIG_INVALID` for a value that is not a whole number 1…9
 */
export function brokersFlag(args: readonly string[]): number | undefined {
  let raw: string | undefined;
  for (const [index, arg] of args.entries()) {
    if (arg === '--brokers') raw = args[index + 1] ?? '';
    else if (arg.startsWith('--brokers=')) raw = arg.slice('--brokers='.length);
  }
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 9) {
    throw new StackError(
      'STACK_CONFIG_INVALID',
      `--brokers must be a whole number from 1 to 9 (3 for a replicated cluster), not "${raw}"`,
    );
  }
  return value;
}

/** Stack options for `n` brokers: the plain stack for 1, the stack `brokers-<n>` otherwise. */
export function clusterStackOptions(brokers: number): Pick<StartStackOptions, 'name' | 'kafka'> {
  return brokers === 1 ? {} : { name: `brokers-${brokers}`, kafka: { brokers } };
}
