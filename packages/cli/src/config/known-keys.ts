/**
 * Refusing configuration keys nobody reads. A misspelt key in a config file would otherwise
 * be dropped without a word and its setting left at the default, which an operator only
 * notices in production; so every key is checked against the shape of the settings, and an
 * unknown one is an error that names it and suggests the closest valid key.
 */

/**
 * The keys a settings object accepts: `'value'` for a setting, `'map'` for an object whose
 * keys are the user's own (e.g. extra headers), or a nested section.
 */
export type ConfigShape = 'value' | 'map' | { readonly [key: string]: ConfigShape };

/** One key that no setting reads. */
export interface UnknownConfigKey {
  /** Dotted path of the key, e.g. `kafka.brokerz`. */
  readonly path: string;
  /** The closest valid key (dotted path), when there is one. */
  readonly suggestion?: string;
}

/** Levenshtein distance, case-insensitive (a key differing only in case is one typo away). */
export function editDistance(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let i = 1; i <= left.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= right.length; j += 1) {
      const cost = left[i - 1] === right[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[right.length] ?? 0;
}

const commonPrefix = (a: string, b: string): number => {
  let length = 0;
  while (length < a.length && a[length]?.toLowerCase() === b[length]?.toLowerCase()) length += 1;
  return length;
};

/** Every dotted path of a shape, for "this key belongs in another section" suggestions. */
function pathsOf(shape: ConfigShape, prefix: readonly string[] = []): string[][] {
  if (typeof shape === 'string') return [[...prefix]];
  return Object.entries(shape).flatMap(([key, inner]) => [
    [...prefix, key],
    ...(typeof inner === 'string' ? [] : pathsOf(inner, [...prefix, key])),
  ]);
}

function suggest(
  key: string,
  siblings: readonly string[],
  prefix: readonly string[],
  root: ConfigShape,
) {
  // The same name in another section is almost certainly what was meant (`brokers` at the
  // top level means `kafka.brokers`).
  const elsewhere = pathsOf(root).find((path) => path[path.length - 1] === key);
  if (elsewhere !== undefined) return elsewhere.join('.');
  let best: { key: string; distance: number; prefix: number } | undefined;
  for (const candidate of siblings) {
    const distance = editDistance(key, candidate);
    const shared = commonPrefix(key, candidate);
    if (
      best === undefined ||
      distance < best.distance ||
      (distance === best.distance && shared > best.prefix)
    ) {
      best = { key: candidate, distance, prefix: shared };
    }
  }
  return best === undefined ? undefined : [...prefix, best.key].join('.');
}

/** The keys of `value` (recursively) that `shape` does not accept. */
export function unknownConfigKeys(
  value: unknown,
  shape: ConfigShape,
  root: ConfigShape = shape,
  prefix: readonly string[] = [],
): UnknownConfigKey[] {
  if (typeof shape === 'string' || typeof value !== 'object' || value === null) return [];
  if (Array.isArray(value)) return [];
  const found: UnknownConfigKey[] = [];
  for (const [key, inner] of Object.entries(value)) {
    const expected = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (expected === undefined) {
      const suggestion = suggest(key, Object.keys(shape), prefix, root);
      found.push({
        path: [...prefix, key].join('.'),
        ...(suggestion === undefined ? {} : { suggestion }),
      });
    } else if (expected !== 'map') {
      found.push(...unknownConfigKeys(inner, expected, root, [...prefix, key]));
    }
  }
  return found;
}

/** One line per unknown key: `unknown key "kafka.brokerz" (did you mean "kafka.brokers"?)`. */
export function describeUnknownConfigKeys(keys: readonly UnknownConfigKey[]): string {
  return keys
    .map(
      (key) =>
        `unknown key "${key.path}"${key.suggestion === undefined ? '' : ` (did you mean "${key.suggestion}"?)`}`,
    )
    .join('; ');
}
