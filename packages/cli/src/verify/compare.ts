/**
 * What `tributary verify` concludes, as pure functions of what it read: every outbox event
 * of the window in Kafka exactly once (by event id), and every projection's per-aggregate
 * version equal to the outbox's. Kept apart from the reading so each rule is unit-tested.
 */

/** An outbox row, as far as verification needs it. */
export interface OutboxEventRef {
  readonly eventId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly aggregateVersion: number;
}

/** Where a committed Kafka record carrying an event id sits. */
export interface KafkaEventRef {
  readonly eventId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** One projection version's stored aggregate versions. */
export interface ProjectionVersions {
  readonly projection: string;
  readonly version: number;
  /** Aggregate types the projection consumes (from the topics it has checkpoints for). */
  readonly aggregateTypes: readonly string[];
  /** `type/id` → last applied version and whether the aggregate is parked. */
  readonly aggregates: ReadonlyMap<
    string,
    { readonly lastVersion: number; readonly parked: boolean }
  >;
}

/** One drift. */
export type VerifyDifference =
  | ({ readonly kind: 'missing' } & OutboxEventRef)
  | ({
      readonly kind: 'duplicate';
      readonly copies: number;
      readonly positions: readonly string[];
    } & OutboxEventRef)
  | { readonly kind: 'unexpected'; readonly eventId: string; readonly position: string }
  | {
      readonly kind: 'projection-behind' | 'projection-ahead';
      readonly projection: string;
      readonly version: number;
      readonly aggregateType: string;
      readonly aggregateId: string;
      /** The outbox's last version of the aggregate (within the window). */
      readonly expected: number;
      /** What the projection recorded (0: never applied). */
      readonly actual: number;
      readonly parked: boolean;
    };

/** The window that was checked; bounds are ISO timestamps on the events' occurred-at. */
export interface VerifyWindow {
  readonly from: string | null;
  readonly to: string | null;
  /** Only these aggregate types; empty: all. */
  readonly aggregateTypes: readonly string[];
}

/** The whole verdict (`--json` prints it as is). */
export interface VerifyReport {
  readonly window: VerifyWindow;
  readonly outboxEvents: number;
  readonly kafkaRecords: number;
  readonly projections: readonly {
    readonly projection: string;
    readonly version: number;
    readonly aggregates: number;
  }[];
  readonly differences: readonly VerifyDifference[];
  readonly ok: boolean;
}

const position = (ref: KafkaEventRef): string => `${ref.topic}/${ref.partition}@${ref.offset}`;

/**
 * Outbox events against the Kafka records: an event with no record is `missing`, with
 * several `duplicate`. Records whose event id the outbox does not hold are `unexpected`
 * only when the whole outbox was read (`wholeOutbox`): a window leaves older events out.
 */
export function compareWithKafka(
  events: readonly OutboxEventRef[],
  records: readonly KafkaEventRef[],
  wholeOutbox: boolean,
): VerifyDifference[] {
  const byEvent = new Map<string, KafkaEventRef[]>();
  for (const record of records) {
    const list = byEvent.get(record.eventId);
    if (list === undefined) byEvent.set(record.eventId, [record]);
    else list.push(record);
  }
  const differences: VerifyDifference[] = [];
  const known = new Set<string>();
  for (const event of events) {
    known.add(event.eventId);
    const copies = byEvent.get(event.eventId) ?? [];
    if (copies.length === 0) differences.push({ kind: 'missing', ...event });
    else if (copies.length > 1)
      differences.push({
        kind: 'duplicate',
        ...event,
        copies: copies.length,
        positions: copies.map(position),
      });
  }
  if (wholeOutbox) {
    for (const record of records) {
      if (!known.has(record.eventId))
        differences.push({
          kind: 'unexpected',
          eventId: record.eventId,
          position: position(record),
        });
    }
  }
  return differences;
}

/**
 * A projection's stored versions against the outbox's last version per aggregate, for the
 * aggregate types it consumes. Behind: it has not applied the last version (a parked
 * aggregate is behind too, and says so). Ahead, only checked without an upper time bound
 * (`openEnded`): it applied versions the outbox does not hold.
 */
export function compareProjection(
  events: readonly OutboxEventRef[],
  projection: ProjectionVersions,
  openEnded: boolean,
): VerifyDifference[] {
  const consumed = new Set(projection.aggregateTypes);
  const last = new Map<string, OutboxEventRef>();
  for (const event of events) {
    if (!consumed.has(event.aggregateType)) continue;
    const key = `${event.aggregateType}/${event.aggregateId}`;
    const seen = last.get(key);
    if (seen === undefined || seen.aggregateVersion < event.aggregateVersion) last.set(key, event);
  }
  const differences: VerifyDifference[] = [];
  for (const [key, event] of last) {
    const stored = projection.aggregates.get(key);
    const actual = stored?.lastVersion ?? 0;
    const ahead = openEnded && actual > event.aggregateVersion;
    if (actual < event.aggregateVersion || ahead)
      differences.push({
        kind: ahead ? 'projection-ahead' : 'projection-behind',
        projection: projection.projection,
        version: projection.version,
        aggregateType: event.aggregateType,
        aggregateId: event.aggregateId,
        expected: event.aggregateVersion,
        actual,
        parked: stored?.parked ?? false,
      });
  }
  return differences;
}

/** The text report: one line per difference, then a verdict. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  const window = report.window;
  lines.push(
    `window: ${window.from ?? 'beginning'} … ${window.to ?? 'now'}${
      window.aggregateTypes.length === 0
        ? ''
        : ` (aggregate types ${window.aggregateTypes.join(', ')})`
    }`,
    `outbox events: ${report.outboxEvents}; Kafka records with an event id: ${report.kafkaRecords}`,
  );
  for (const projection of report.projections)
    lines.push(
      `projection ${projection.projection}@v${projection.version}: ${projection.aggregates} aggregates compared`,
    );
  for (const difference of report.differences) lines.push(describe(difference));
  lines.push(
    report.ok
      ? 'OK: no drift'
      : `DRIFT: ${report.differences.length} difference${report.differences.length === 1 ? '' : 's'}`,
  );
  return lines.join('\n');
}

function describe(difference: VerifyDifference): string {
  switch (difference.kind) {
    case 'missing':
      return `missing    ${difference.aggregateType}/${difference.aggregateId} v${difference.aggregateVersion} event ${difference.eventId}: not in Kafka`;
    case 'duplicate':
      return `duplicate  ${difference.aggregateType}/${difference.aggregateId} v${difference.aggregateVersion} event ${difference.eventId}: ${difference.copies} records (${difference.positions.join(', ')})`;
    case 'unexpected':
      return `unexpected event ${difference.eventId} at ${difference.position}: not in the outbox`;
    case 'projection-behind':
    case 'projection-ahead':
      return `${difference.kind === 'projection-behind' ? 'behind' : 'ahead '}     ${difference.projection}@v${difference.version} ${difference.aggregateType}/${difference.aggregateId}: applied v${difference.actual}, outbox v${difference.expected}${difference.parked ? ' (parked)' : ''}`;
  }
}
