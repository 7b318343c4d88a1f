import { InvalidEventError } from './errors.js';

/** Default upper bound of one serialized payload: 1 MiB, Kafka's default `max.message.bytes`. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576;

const encoder = new TextEncoder();
/** In `u` mode a valid surrogate pair is one code point, so this matches only lone halves. */
const LONE_SURROGATE = /\p{Surrogate}/u;
/**
 * Any NUL or surrogate at all: one plain scan that clears almost every string, so the two
 * exact checks (a valid pair is fine) run only on the few that contain one.
 */
// eslint-disable-next-line no-control-regex -- NUL is what is looked for
const SUSPECT = /[\u0000\ud800-\udfff]/;

/**
 * Checks that `value` survives a JSON round trip through Postgres `jsonb` and Kafka
 * unchanged, and returns its UTF-8 JSON size. Rejected, because each would be silently
 * altered or refused later: `undefined` at the top, functions, symbols, bigints, NaN and
 * ±Infinity (JSON turns them into `null`), integers beyond 2^53 (precision lost), strings
 * or keys containing `\u0000` or a lone UTF-16 surrogate (Postgres `jsonb` refuses them), and non-plain objects such as
 * `Date` or `Map` (they would come back as strings or `{}`).
 *
 * @throws InvalidEventError naming the path of the first offending value.
 */
export function assertJsonPayload(
  value: unknown,
  what: string,
  maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES,
): number {
  return checkedJsonPayload(value, what, maxBytes).bytes;
}

/** A value accepted by {@link checkedJsonPayload}: its JSON text and the text's UTF-8 size. */
export interface CheckedJsonPayload {
  readonly json: string;
  readonly bytes: number;
}

/**
 * {@link assertJsonPayload}, returning the JSON text as well: the stores send that very text
 * to the database, so a payload is serialized once per append, not once to measure it and
 * again to store it.
 *
 * @throws InvalidEventError naming the path of the first offending value.
 */
export function checkedJsonPayload(
  value: unknown,
  what: string,
  maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES,
): CheckedJsonPayload {
  if (value === undefined) throw new InvalidEventError(`${what} is undefined`);
  checkJson(value, [], what, new Set());
  const json = JSON.stringify(value);
  // Only a text that could be over the limit is encoded: UTF-8 takes at most 3 bytes per
  // UTF-16 code unit, and encoding allocates a copy of the whole payload.
  const bytes = json.length * 3 <= maxBytes ? utf8Length(json) : encoder.encode(json).byteLength;
  if (bytes > maxBytes) {
    throw new InvalidEventError(`${what} is ${bytes} bytes, over the limit of ${maxBytes} bytes`, {
      bytes,
      maxBytes,
    });
  }
  return { json, bytes };
}

/** UTF-8 size of a well-formed string (lone surrogates were refused), without encoding it. */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x80) continue;
    // A surrogate pair is 2 code units and 4 bytes; everything else below 0x800 is 2 bytes, above 3.
    bytes += code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

/**
 * `path` holds the keys and indexes from the root to `value`; it is turned into text only
 * when something fails (building `$.a[0]` for every value cost as much as the check).
 */
function checkJson(value: unknown, path: PathSegment[], what: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
      if (!SUSPECT.test(value)) return;
      if (value.includes('\u0000'))
        fail(what, path, 'contains \\u0000, which Postgres jsonb rejects');
      if (LONE_SURROGATE.test(value))
        fail(what, path, 'contains a lone UTF-16 surrogate, which Postgres jsonb rejects');
      return;
    case 'number':
      if (!Number.isFinite(value)) fail(what, path, `is ${value}, which JSON cannot represent`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        fail(what, path, `is ${value}, beyond 2^53: send it as a string to keep its precision`);
      }
      return;
    case 'boolean':
      return;
    case 'object':
      break;
    case 'undefined':
    case 'bigint':
    case 'function':
    case 'symbol':
      fail(what, path, `is a ${typeof value}, which JSON cannot represent`);
  }
  if (value === null) return;
  if (seen.has(value)) fail(what, path, 'is a circular reference');
  seen.add(value);
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) {
      const item: unknown = value[index];
      path.push(index);
      checkJson(item === undefined ? null : item, path, what, seen);
      path.pop();
    }
  } else {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'unknown';
      fail(what, path, `is a ${name}; use plain objects, arrays and ISO strings`);
    }
    for (const [key, child] of Object.entries(value)) {
      if (SUSPECT.test(key)) {
        if (key.includes('\u0000')) fail(what, [...path, '<key>'], 'has a key containing \\u0000');
        if (LONE_SURROGATE.test(key))
          fail(what, [...path, '<key>'], 'has a key containing a lone UTF-16 surrogate');
      }
      // undefined properties are dropped by JSON, as expected of optional fields.
      if (child === undefined) continue;
      path.push(key);
      checkJson(child, path, what, seen);
      path.pop();
    }
  }
  seen.delete(value);
}

/** A key of an object or an index of an array on the way to a checked value. */
type PathSegment = string | number;

function fail(what: string, segments: readonly PathSegment[], reason: string): never {
  const path = `$${segments.map((segment) => (typeof segment === 'number' ? `[${segment}]` : `.${segment}`)).join('')}`;
  throw new InvalidEventError(`${what} at ${path} ${reason}`, { path });
}
