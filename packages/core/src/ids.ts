import { v7 } from 'uuid';

/** Generates event and command ids: UUID v7, time-ordered so indexes stay compact. */
export type IdGenerator = () => string;

/** The default {@link IdGenerator}: UUID v7. */
export const uuidV7: IdGenerator = () => v7();

/** Returns the current time; replaceable in tests for deterministic timestamps. */
export type Clock = () => Date;

/** The default {@link Clock}: the system clock. */
export const systemClock: Clock = () => new Date();
