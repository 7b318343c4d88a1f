import { describe, expect, it } from 'vitest';
import {
  CONVERTER_CLASSES,
  connectWorkerProperties,
  debeziumConnectorProperties,
  formatProperties,
} from './debezium-config.js';

const connector = debeziumConnectorProperties({
  name: 'bench-json',
  databaseUrl: 'postgres://tributary:s%40cret@127.0.0.1:54321/bench_x',
  serverName: 'bench_x_json',
  slot: 'dbz_x_json_0',
  publication: 'dbz_x',
  topicPrefix: 'bench_x.dbz_json_0',
  partitions: 3,
});

describe('debeziumConnectorProperties', () => {
  it('runs the PostgreSQL connector on pgoutput with its own slot and publication', () => {
    expect(connector.get('connector.class')).toBe(
      'io.debezium.connector.postgresql.PostgresConnector',
    );
    expect(connector.get('plugin.name')).toBe('pgoutput');
    expect(connector.get('slot.name')).toBe('dbz_x_json_0');
    expect(connector.get('publication.name')).toBe('dbz_x');
    expect(connector.get('publication.autocreate.mode')).toBe('disabled');
    expect(connector.get('snapshot.mode')).toBe('no_data');
    expect(connector.get('table.include.list')).toBe('tributary.events');
  });

  it('connects with the parts of the database URL, decoded', () => {
    expect(connector.get('database.hostname')).toBe('127.0.0.1');
    expect(connector.get('database.port')).toBe('54321');
    expect(connector.get('database.user')).toBe('tributary');
    expect(connector.get('database.password')).toBe('s@cret');
    expect(connector.get('database.dbname')).toBe('bench_x');
  });

  it('maps the outbox EventRouter onto our outbox columns', () => {
    expect(connector.get('transforms')).toBe('outbox');
    expect(connector.get('transforms.outbox.type')).toBe(
      'io.debezium.transforms.outbox.EventRouter',
    );
    expect(connector.get('transforms.outbox.route.by.field')).toBe('aggregate_type');
    expect(connector.get('transforms.outbox.table.field.event.key')).toBe('aggregate_id');
    expect(connector.get('transforms.outbox.table.field.event.id')).toBe('event_id');
    expect(connector.get('transforms.outbox.table.field.event.payload')).toBe('payload');
    expect(connector.get('transforms.outbox.route.topic.replacement')).toBe(
      'bench_x.dbz_json_0.${routedByValue}',
    );
    expect(
      connector.get('transforms.outbox.table.fields.additional.placement')?.split(','),
    ).toEqual([
      'aggregate_type:header:aggregateType',
      'aggregate_version:header:aggregateVersion',
      'event_type:header:eventType',
      'schema_version:header:schemaVersion',
      'occurred_at:header:occurredAt',
      'metadata:header:metadata',
    ]);
  });

  it('has Connect create the event topics with the partitions Tributary uses', () => {
    expect(connector.get('topic.creation.default.partitions')).toBe('3');
    expect(connector.get('topic.creation.default.replication.factor')).toBe('-1');
  });
});

describe('connectWorkerProperties', () => {
  const worker = (valueFormat: 'json' | 'string') =>
    connectWorkerProperties({
      bootstrapServers: ['127.0.0.1:9092', '127.0.0.1:9093'],
      valueFormat,
      offsetsFile: '/tmp/run/offsets',
      pluginPath: '/cache/debezium',
      restPort: 18083,
    });

  it('uses JsonConverter values with schemas (the default) for the JSON variant', () => {
    const properties = worker('json');
    expect(properties.get('value.converter')).toBe('org.apache.kafka.connect.json.JsonConverter');
    expect(properties.get('value.converter.schemas.enable')).toBe('true');
    expect(properties.get('key.converter')).toBe(CONVERTER_CLASSES.string);
  });

  it('uses StringConverter values for the cheapest variant', () => {
    const properties = worker('string');
    expect(properties.get('value.converter')).toBe(
      'org.apache.kafka.connect.storage.StringConverter',
    );
    expect(properties.has('value.converter.schemas.enable')).toBe(false);
  });

  it('points at the brokers, the plugin path, a fresh offsets file and a loopback REST port', () => {
    const properties = worker('json');
    expect(properties.get('bootstrap.servers')).toBe('127.0.0.1:9092,127.0.0.1:9093');
    expect(properties.get('plugin.path')).toBe('/cache/debezium');
    expect(properties.get('plugin.discovery')).toBe('service_load');
    expect(properties.get('offset.storage.file.filename')).toBe('/tmp/run/offsets');
    expect(properties.get('listeners')).toBe('http://127.0.0.1:18083');
  });
});

describe('formatProperties', () => {
  it('writes one key=value line per property and escapes backslashes', () => {
    const text = formatProperties(
      new Map([
        ['a.b', 'c'],
        ['path', 'C:\\x'],
      ]),
    );
    expect(text).toBe('a.b=c\npath=C:\\\\x\n');
  });
});
