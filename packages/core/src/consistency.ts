/**
 * Consistency tokens: read-your-writes across Kafka. A command's result carries a token that
 * names the aggregate versions it wrote; a projection has caught up with the command when it
 * has applied each of those versions (projections track the last applied version per
 * aggregate anyway, for their ordering guard). The token is an opaque string, safe in an
 * HTTP header or a URL.
 */
import { TributaryError } from './errors.js';

/** One aggregate version a reader wants to see. */
export interface ConsistencyPosition {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly version: number;
}

const PREFIX = 'c1.';

/** A consistency token that cannot be read (corrupted, truncated, or not a token). */
export class InvalidConsistencyTokenError extends TributaryError {
  constructor(token: string, reason: string) {
    super(
      'INVALID_CONSISTENCY_TOKEN',
      `Not a consistency token (${reason}): pass the consistencyToken string of a command result unchanged`,
      { details: { token: token.length > 200 ? `${token.slice(0, 200)}…` : token } },
    );
  }
}

/**
 * Encodes positions as a token (`c1.` + base64url JSON). Several positions of one aggregate
 * keep the highest version.
 */
export function encodeConsistencyToken(positions: readonly ConsistencyPosition[]): string {
  const highest = new Map<string, ConsistencyPosition>();
  for (const position of positions) {
    const key = JSON.stringify([position.aggregateType, position.aggregateId]);
    const known = highest.get(key);
    if (known === undefined || known.version < position.version) highest.set(key, position);
  }
  const body = [...highest.values()].map((p) => [p.aggregateType, p.aggregateId, p.version]);
  return PREFIX + Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/**
 * Reads a token back into positions.
 *
 * @throws InvalidConsistencyTokenError when `token` is not one.
 */
export function decodeConsistencyToken(token: string): ConsistencyPosition[] {
  if (!token.startsWith(PREFIX))
    throw new InvalidConsistencyTokenError(token, `no ${PREFIX} prefix`);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw new InvalidConsistencyTokenError(token, 'not base64url JSON');
  }
  if (!Array.isArray(body)) throw new InvalidConsistencyTokenError(token, 'not a list');
  return body.map((entry: unknown) => {
    if (
      !Array.isArray(entry) ||
      entry.length !== 3 ||
      typeof entry[0] !== 'string' ||
      typeof entry[1] !== 'string' ||
      !Number.isSafeInteger(entry[2]) ||
      (entry[2] as number) < 0
    ) {
      throw new InvalidConsistencyTokenError(token, 'malformed position');
    }
    return { aggregateType: entry[0], aggregateId: entry[1], version: entry[2] as number };
  });
}

/** One token covering several (e.g. every command of a request): the highest version per aggregate. */
export function mergeConsistencyTokens(...tokens: readonly string[]): string {
  return encodeConsistencyToken(tokens.flatMap((token) => decodeConsistencyToken(token)));
}
