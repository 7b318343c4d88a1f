import { headerValue, type RawHeaders } from '@tributary/core';

/**
 * A consumed record, whatever the source (a Kafka client or the in-memory log): what the
 * applier is fed and what parking and dead letters keep. Offsets are numbers: exact up to
 * 2^53, which no partition reaches.
 */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Uint8Array | string | null;
  readonly headers: RawHeaders;
}

/** Header values as plain strings (first value of repeated headers), for parking and dead letters. */
export function headersAsStrings(headers: RawHeaders): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    const value = headerValue(headers, name);
    if (value !== undefined) result[name] = value;
  }
  return result;
}

/** The record value as bytes (for parking and registry decoding). */
export function valueBytes(value: Uint8Array | string | null): Uint8Array | null {
  if (value === null) return null;
  return typeof value === 'string' ? new TextEncoder().encode(value) : value;
}
