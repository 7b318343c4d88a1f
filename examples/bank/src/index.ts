/**
 * @packageDocumentation
 * Example domain for Tributary: bank accounts and transfers between them. Two aggregates
 * (`Account`, `Transfer`), validated commands, typed business-rule violations, an upcast
 * event (`AccountOpened` v1 → v2), a transfer process manager, an injectable application
 * service and the runtime the demo runs on.
 */
export * from './money.js';
export * from './iban.js';
export * from './account/events.js';
export * from './account/commands.js';
export * from './account/errors.js';
export * from './account/account.js';
export * from './account/upcasters.js';
export * from './transfer/events.js';
export * from './transfer/commands.js';
export * from './transfer/errors.js';
export * from './transfer/transfer.js';
export * from './transfer/transfer-process.js';
export * from './bank-service.js';
export * from './runtime.js';
export * from './read-models/projections.js';
export * from './read-models/read-side.js';
