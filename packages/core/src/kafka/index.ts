export type * from './client.js';
export * from './errors.js';
