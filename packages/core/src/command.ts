import { validate, type ValidationError as ClassValidatorError } from 'class-validator';
import { ValidationError, type ValidationIssue } from './errors.js';

/** A command class: instantiable without arguments, fields filled by {@link command}. */
export type CommandClass<C extends object = object> = (new () => C) & {
  /** Overrides the command's type name (defaults to the class name, which minifiers may mangle). */
  readonly commandType?: string;
};

/** The data fields of a command class (its non-function properties). */
export type CommandProps<C> = {
  [K in keyof C as C[K] extends (...args: never[]) => unknown ? never : K]: C[K];
};

/** The type name of a command class: its static `commandType`, else the class name. */
export function commandTypeOf(commandClass: CommandClass): string {
  return commandClass.commandType ?? commandClass.name;
}

/**
 * Creates a command instance from plain data (for example a parsed HTTP body). The result
 * is an instance of `commandClass`, so its class-validator rules apply.
 *
 * Commands are built this way rather than with constructors because class fields declared
 * in a subclass would overwrite whatever a base constructor assigned (ES2022 field
 * semantics).
 */
export function command<C extends object>(
  commandClass: CommandClass<C>,
  props: CommandProps<C>,
): C {
  return Object.assign(new commandClass(), props);
}

/**
 * Validates a command with its class-validator decorators. Throws a {@link ValidationError}
 * listing every failed field and rule. Unknown properties are rejected too, so a typo in a
 * field name cannot slip through as `undefined`.
 */
export async function validateCommand(commandInstance: object): Promise<void> {
  const errors = await validate(commandInstance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  });
  if (errors.length > 0) {
    const name = commandTypeOf(commandInstance.constructor as CommandClass);
    throw new ValidationError(`Command ${name}`, flattenIssues(errors));
  }
}

function flattenIssues(errors: readonly ClassValidatorError[], parent = ''): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const error of errors) {
    const field = parent === '' ? error.property : `${parent}.${error.property}`;
    for (const [rule, message] of Object.entries(error.constraints ?? {})) {
      issues.push({ field, rule, message });
    }
    if (error.children !== undefined && error.children.length > 0) {
      issues.push(...flattenIssues(error.children, field));
    }
  }
  return issues;
}
