import { TributaryError, type TributaryErrorOptions } from '@tributary/core';

/** Error codes of reactors, process managers and deadlines. */
export type ReactorErrorCode =
  | 'REACTOR_INVALID'
  | 'REACTOR_CONFIG_INVALID'
  | 'REACTOR_COMMAND_UNKNOWN'
  | 'REACTOR_SCHEDULE_INVALID'
  | 'REACTOR_NOT_IN_HANDLER'
  | 'REACTOR_BATCH_DECLINED';

/** Base of every error of `@tributary/reactors`; `code` tells them apart. */
export class ReactorError extends TributaryError {
  constructor(code: ReactorErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A reactor or process manager definition is malformed. */
export class InvalidReactorError extends ReactorError {
  constructor(reactor: string, reason: string) {
    super('REACTOR_INVALID', `Reactor "${reactor}" is invalid: ${reason}`, {
      details: { reactor },
    });
  }
}
