export * from './confluent-schema-registry-client.js';
export * from './codecs.js';
export * from './encoder.js';
