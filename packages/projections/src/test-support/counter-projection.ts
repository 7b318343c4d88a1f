import { applicationsProjection as defineApplicationsProjection } from '@tributary/testing';

export type { CounterEvent } from '@tributary/testing';

/**
 * Version 1 of the counter projection (per-event handlers, default policies), as the
 * integration and crash tests run it: one definition for every process of a test.
 */
export const applicationsProjection = defineApplicationsProjection();
