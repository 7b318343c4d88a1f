import { describe, expect, it } from 'vitest';
import { isTributaryError } from './errors.js';
import { assertSqlIdentifier, quoteIdentifier } from './identifiers.js';

describe('SQL identifiers', () => {
  it('quotes names that match the pattern', () => {
    expect(quoteIdentifier('schema', 'tributary')).toBe('"tributary"');
    expect(quoteIdentifier('table', '_events_2')).toBe('"_events_2"');
  });

  it('refuses names that could break out of quotes or differ from their unquoted form', () => {
    for (const bad of ['Events', 'a"; drop table x; --', '1abc', '', 'a'.repeat(64), 42]) {
      let caught: unknown;
      try {
        assertSqlIdentifier('table', bad);
      } catch (error) {
        caught = error;
      }
      expect(isTributaryError(caught, 'INVALID_IDENTIFIER')).toBe(true);
    }
  });
});
