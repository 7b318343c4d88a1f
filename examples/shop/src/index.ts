/**
 * @packageDocumentation
 * The shop example: an orders service and an inventory service that share only Kafka. A
 * reactor reserves stock when an order is confirmed, a process manager cancels an order whose
 * reservation failed, and a deadline cancels an order left unpaid.
 */
export * from './orders.js';
export * from './inventory.js';
export * from './reactors.js';
export * from './demo/scenario.js';
