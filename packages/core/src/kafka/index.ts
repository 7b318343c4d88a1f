export type * from './client.js';
export * from './errors.js';
export * from './partitioner.js';
export * from './security.js';
