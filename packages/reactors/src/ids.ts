import { createHash } from 'node:crypto';
import { MAX_COMMAND_ID_LENGTH } from '@tributary/core';

/**
 * The id of the `index`-th message (`kind` `c` for commands, `s` for scheduled commands) a
 * reactor issues for one consumed event. Readable when it fits the command-id limit, a hash
 * otherwise; the same inputs give the same id in every process and on every replay, which
 * is what makes a handler that runs again append nothing new.
 */
export function derivedMessageId(
  reactor: string,
  eventId: string,
  kind: 'c' | 's',
  index: number,
): string {
  const readable = `${reactor}:${eventId}:${kind}${index}`;
  if (readable.length <= MAX_COMMAND_ID_LENGTH) return readable;
  const digest = createHash('sha256').update(`${eventId}\u0000${kind}${index}`).digest('hex');
  return `${reactor}:${digest}:${kind}${index}`;
}

/** The idempotency key of (reactor, consumed event) for effects outside the database. */
export function reactorIdempotencyKey(reactor: string, eventId: string): string {
  return `${reactor}:${eventId}`;
}
