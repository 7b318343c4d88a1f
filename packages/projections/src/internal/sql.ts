/** Types the rows a knex query returns (knex's own result types are loose). */
export async function typedRows<Row>(query: PromiseLike<unknown>): Promise<Row[]> {
  return (await query) as Row[];
}

/** Types the single row (or none) a knex `first()` query returns. */
export async function typedRow<Row>(query: PromiseLike<unknown>): Promise<Row | undefined> {
  return (await query) as Row | undefined;
}
