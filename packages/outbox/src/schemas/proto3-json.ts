/**
 * The proto3 JSON mapping (https://protobuf.dev/programming-guides/json/) between event
 * payloads, which are JSON in the outbox, and protobufjs messages: enum names, 64-bit
 * integers as decimal strings, bytes as base64, Timestamp as RFC 3339, Duration as
 * `"1.5s"`, wrapper types as their bare value, field names as declared or lowerCamelCase.
 * protobufjs's own `fromObject`/`toObject` know none of the well-known types and accept
 * only enum numbers in `verify`, hence this walk over the message type.
 */
import type { PayloadIssue } from '@tributary/core';
import protobuf from 'protobufjs';

const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const WRAPPERS = new Map([
  ['google.protobuf.DoubleValue', 'double'],
  ['google.protobuf.FloatValue', 'float'],
  ['google.protobuf.Int64Value', 'int64'],
  ['google.protobuf.UInt64Value', 'uint64'],
  ['google.protobuf.Int32Value', 'int32'],
  ['google.protobuf.UInt32Value', 'uint32'],
  ['google.protobuf.BoolValue', 'bool'],
  ['google.protobuf.StringValue', 'string'],
  ['google.protobuf.BytesValue', 'bytes'],
]);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;
const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
const MAX_SECONDS = 315_576_000_000n; // ±10,000 years, the range of Timestamp and Duration

const fullName = (type: protobuf.Type): string => type.fullName.replace(/^\./, '');
const camel = (name: string): string =>
  name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const pointer = (path: readonly string[]): string =>
  path.map((part) => `/${part.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

class Issues {
  readonly list: PayloadIssue[] = [];
  add(path: readonly string[], message: string): undefined {
    this.list.push({ path: pointer(path), message });
    return undefined;
  }
}

function integer(
  value: unknown,
  kind: string,
  path: readonly string[],
  issues: Issues,
): number | string | undefined {
  let big: bigint;
  if (typeof value === 'number' && Number.isInteger(value)) big = BigInt(value);
  else if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) big = BigInt(value.trim());
  else return issues.add(path, `${JSON.stringify(value)} is not an integer (${kind})`);
  const [min, max] = INT64.has(kind)
    ? kind.startsWith('u') || kind === 'fixed64'
      ? [0n, UINT64_MAX]
      : [INT64_MIN, INT64_MAX]
    : UINT32.has(kind)
      ? [0n, 2n ** 32n - 1n]
      : [-(2n ** 31n), 2n ** 31n - 1n];
  if (big < min || big > max)
    return issues.add(path, `${String(value)} is out of range for ${kind}`);
  // Strings keep 64-bit values exact; protobufjs turns them into Longs.
  return INT64.has(kind) ? big.toString() : Number(big);
}

function scalar(value: unknown, kind: string, path: readonly string[], issues: Issues): unknown {
  if (INT64.has(kind) || INT32.has(kind) || UINT32.has(kind))
    return integer(value, kind, path, issues);
  switch (kind) {
    case 'double':
    case 'float':
      if (typeof value === 'number') return value;
      if (value === 'NaN') return Number.NaN;
      if (value === 'Infinity') return Number.POSITIVE_INFINITY;
      if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        return Number(value);
      return issues.add(path, `${JSON.stringify(value)} is not a number (${kind})`);
    case 'bool':
      return typeof value === 'boolean'
        ? value
        : issues.add(path, `${JSON.stringify(value)} is not a boolean`);
    case 'string':
      return typeof value === 'string'
        ? value
        : issues.add(path, `${JSON.stringify(value)} is not a string`);
    case 'bytes':
      if (typeof value === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value))
        return Buffer.from(value, 'base64');
      return issues.add(path, `${JSON.stringify(value)} is not base64 text (bytes)`);
    default:
      return issues.add(path, `unsupported field type ${kind}`);
  }
}

function timestamp(value: unknown, path: readonly string[], issues: Issues): unknown {
  const match = typeof value === 'string' ? RFC3339.exec(value) : null;
  if (match === null)
    return issues.add(path, `${JSON.stringify(value)} is not an RFC 3339 timestamp`);
  const [, , , , , , , fraction = ''] = match;
  const whole = value as string;
  const millis = Date.parse(whole.replace(/\.\d+/, '').replace(/z$/, 'Z').replace('t', 'T'));
  if (Number.isNaN(millis)) return issues.add(path, `${JSON.stringify(value)} is not a valid date`);
  const seconds = BigInt(Math.floor(millis / 1000));
  if (seconds < -62_135_596_800n || seconds > 253_402_300_799n)
    return issues.add(path, `${whole} is outside 0001-01-01 to 9999-12-31`);
  return { seconds: seconds.toString(), nanos: Number(fraction.padEnd(9, '0') || '0') };
}

function duration(value: unknown, path: readonly string[], issues: Issues): unknown {
  const match = typeof value === 'string' ? DURATION.exec(value) : null;
  if (match === null)
    return issues.add(path, `${JSON.stringify(value)} is not a duration like "1.5s"`);
  const [, minus, whole = '0', fraction = ''] = match;
  const seconds = BigInt(whole);
  if (seconds > MAX_SECONDS) return issues.add(path, `${String(value)} is out of range`);
  const nanos = Number(fraction.padEnd(9, '0') || '0');
  return minus === undefined
    ? { seconds: seconds.toString(), nanos }
    : { seconds: (-seconds).toString(), nanos: -nanos };
}

function fieldValue(
  field: protobuf.Field,
  value: unknown,
  path: readonly string[],
  issues: Issues,
): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'string') {
      const number = resolved.values[value];
      return number === undefined
        ? issues.add(
            path,
            `${JSON.stringify(value)} is not a value of ${resolved.name} (${Object.keys(resolved.values).join(', ')})`,
          )
        : number;
    }
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    return issues.add(path, `${JSON.stringify(value)} is not a ${resolved.name} name`);
  }
  if (resolved instanceof protobuf.Type) return messageValue(resolved, value, path, issues);
  return scalar(value, field.type, path, issues);
}

/** proto3 JSON → the plain object `Type.fromObject` takes; problems go to `issues`. */
function messageValue(
  type: protobuf.Type,
  value: unknown,
  path: readonly string[],
  issues: Issues,
): unknown {
  const name = fullName(type);
  if (name === 'google.protobuf.Timestamp') return timestamp(value, path, issues);
  if (name === 'google.protobuf.Duration') return duration(value, path, issues);
  const wrapped = WRAPPERS.get(name);
  if (wrapped !== undefined) return { value: scalar(value, wrapped, path, issues) };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return issues.add(path, `${JSON.stringify(value)} is not an object (${type.name})`);
  const out: Record<string, unknown> = {};
  const byJsonName = new Map(type.fieldsArray.map((field) => [camel(field.name), field]));
  const oneofs = new Map<string, string>();
  for (const [key, raw] of Object.entries(value)) {
    const field = type.fields[key] ?? byJsonName.get(key);
    const at = [...path, key];
    if (field === undefined) {
      issues.add(at, `${type.name} has no field "${key}"`);
      continue;
    }
    if (raw === null) continue; // proto3 JSON: null is the field's default
    const group = field.partOf;
    if (group !== null && !group.name.startsWith('_')) {
      const other = oneofs.get(group.name);
      if (other !== undefined)
        issues.add(at, `${key} and ${other} are both set in oneof ${group.name}`);
      oneofs.set(group.name, key);
    }
    if (field.map) {
      if (typeof raw !== 'object' || Array.isArray(raw)) {
        issues.add(at, `${JSON.stringify(raw)} is not an object (map)`);
        continue;
      }
      const entries: Record<string, unknown> = {};
      for (const [mapKey, entry] of Object.entries(raw as Record<string, unknown>)) {
        entries[mapKey] = fieldValue(field, entry, [...at, mapKey], issues);
      }
      out[field.name] = entries;
    } else if (field.repeated) {
      if (!Array.isArray(raw)) {
        issues.add(at, `${JSON.stringify(raw)} is not an array`);
        continue;
      }
      out[field.name] = raw.map((entry, index) =>
        fieldValue(field, entry, [...at, String(index)], issues),
      );
    } else {
      out[field.name] = fieldValue(field, raw, at, issues);
    }
  }
  return out;
}

/**
 * Converts a proto3 JSON payload into the object `type.fromObject` accepts.
 *
 * @returns the object, and every way the payload does not fit the message.
 */
export function fromProto3Json(
  type: protobuf.Type,
  payload: unknown,
): { readonly value: Record<string, unknown>; readonly issues: readonly PayloadIssue[] } {
  const issues = new Issues();
  const value = messageValue(type, payload, [], issues) as Record<string, unknown> | undefined;
  return { value: value ?? {}, issues: issues.list };
}

const longOf = ({ low, high }: { low: number; high: number }, unsigned: boolean): string => {
  const big = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  return (unsigned ? big : BigInt.asIntN(64, big)).toString();
};

const longText = (value: unknown, unsigned: boolean): string => {
  if (typeof value === 'number') return String(value);
  // protobufjs decodes 64-bit fields to instances of the `long` package.
  return longOf(value as { low: number; high: number }, unsigned);
};

function toScalar(value: unknown, kind: string): unknown {
  if (INT64.has(kind)) return longText(value, kind.startsWith('u') || kind === 'fixed64');
  if (kind === 'bytes') return Buffer.from(value as Uint8Array).toString('base64');
  if (
    (kind === 'double' || kind === 'float') &&
    typeof value === 'number' &&
    !Number.isFinite(value)
  )
    return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  return value;
}

function toFieldValue(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) return resolved.valuesById[value as number] ?? value;
  if (resolved instanceof protobuf.Type) return toMessageValue(resolved, value as protobuf.Message);
  return toScalar(value, field.type);
}

function toMessageValue(type: protobuf.Type, message: protobuf.Message): unknown {
  const name = fullName(type);
  const record = message as unknown as Record<string, unknown>;
  if (name === 'google.protobuf.Timestamp') {
    const seconds = BigInt(longText(record.seconds ?? 0, false));
    const nanos = Number(record.nanos ?? 0);
    const iso = new Date(Number(seconds) * 1000).toISOString().replace(/\.000Z$/, '');
    const fraction =
      nanos === 0
        ? ''
        : `.${String(nanos)
            .padStart(9, '0')
            .replace(/(000)+$/, '')}`;
    return `${iso.replace(/Z$/, '')}${fraction}Z`;
  }
  if (name === 'google.protobuf.Duration') {
    const seconds = BigInt(longText(record.seconds ?? 0, false));
    const nanos = Number(record.nanos ?? 0);
    const negative = seconds < 0n || nanos < 0;
    const abs = (seconds < 0n ? -seconds : seconds).toString();
    const fraction =
      nanos === 0
        ? ''
        : `.${String(Math.abs(nanos))
            .padStart(9, '0')
            .replace(/(000)+$/, '')}`;
    return `${negative ? '-' : ''}${abs}${fraction}s`;
  }
  const wrapped = WRAPPERS.get(name);
  if (wrapped !== undefined)
    return toScalar(record.value ?? type.fields.value?.defaultValue, wrapped);
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const value = record[field.name];
    const group = field.partOf;
    const own = Object.hasOwn(record, field.name);
    if (field.map) {
      out[field.name] = Object.fromEntries(
        Object.entries((value ?? {}) as Record<string, unknown>).map(([k, v]) => [
          k,
          toFieldValue(field, v),
        ]),
      );
    } else if (field.repeated) {
      out[field.name] = ((value ?? []) as unknown[]).map((entry) => toFieldValue(field, entry));
    } else if (field.resolvedType instanceof protobuf.Type || group !== null) {
      // Unset messages and oneof members are left out, as proto3 JSON printers do.
      if (own && value !== null && value !== undefined)
        out[field.name] = toFieldValue(field, value);
    } else {
      // Scalars and enums appear with their default, so handlers see every field.
      out[field.name] = toFieldValue(field, value ?? field.typeDefault);
    }
  }
  return out;
}

/** A decoded message as proto3 JSON (field names as declared, defaults of scalars included). */
export function toProto3Json(
  type: protobuf.Type,
  message: protobuf.Message,
): Record<string, unknown> {
  return toMessageValue(type, message) as Record<string, unknown>;
}
