// projectionSpec's given events are typed by the projection's events. The @ts-expect-error
// lines are the type tests: `npm run typecheck` fails if one of them stops being an error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applicationsProjection } from '../fixtures/counter-projection.js';
import { createPgliteKnex, type PgliteKnex } from './pglite.js';
import { givenEvent, givenRawEvent, projectionSpec } from './projection-specification.js';

let db: PgliteKnex;
beforeAll(async () => {
  db = await createPgliteKnex();
}, 120_000);
afterAll(async () => {
  await db.close();
});

describe('projectionSpec', () => {
  it('projects typed given events and compares rows', async () => {
    await projectionSpec(applicationsProjection(), { knex: db.knex })
      .given(
        givenEvent('Counter', 'c1', 'Incremented', { by: 2 }),
        givenEvent('Counter', 'c1', 'Incremented', { by: 3 }),
        givenEvent('Counter', 'c2', 'Incremented', { by: 1 }),
      )
      .thenRows('totals', [
        { counter_id: 'c1', total: 5 },
        { counter_id: 'c2', total: 1 },
      ]);
  });

  it('rejects at compile time an event type or payload the projection does not declare; givenRawEvent opts out', async () => {
    const spec = projectionSpec(applicationsProjection(), { knex: db.knex });
    // @ts-expect-error — a misspelt event type ("Incremented" is declared).
    const misspeltType = spec.given(givenEvent('Counter', 'c1', 'Incremnted', { by: 1 }));
    // @ts-expect-error — a misspelt payload key ("by" is required).
    const misspeltKey = spec.given(givenEvent('Counter', 'c1', 'Incremented', { bye: 1 }));
    // @ts-expect-error — a payload value of the wrong type ("by" is a number).
    const wrongValue = spec.given({
      aggregateType: 'Counter',
      aggregateId: 'c1',
      type: 'Incremented',
      data: { by: 'one' },
    });
    expect([misspeltType, misspeltKey, wrongValue]).toHaveLength(3);
    // A payload no declared type has (an older schema, an undeclared event) goes in raw;
    // the projection ignores the undeclared type and applies the declared one.
    await spec
      .given(
        givenRawEvent('Counter', 'c3', 'Renamed', { name: 'three' }),
        givenEvent('Counter', 'c3', 'Incremented', { by: 4 }),
      )
      .thenRows('totals', [{ counter_id: 'c3', total: 4 }]);
  });
});
