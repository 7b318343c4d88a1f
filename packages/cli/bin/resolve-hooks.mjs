// Module resolve hooks of the `tributary` command (registered by tributary.mjs).
//
// 1. When the command runs from its TypeScript sources, `@tributary/*` packages resolve
//    through their `source` export condition (src/index.ts) instead of dist/, which does
//    not exist before `npm run build`.
// 2. A user module given with `--module` may live outside any project that installs
//    Tributary (a check script in /tmp, an operator's file): its bare `@tributary/*`
//    imports then fail normal resolution, and are resolved from the command's own location
//    instead, which also makes them the very module instances the command runs.

/** @type {{ sourceCondition: boolean, fallbackParentURL: string }} */
let options = { sourceCondition: false, fallbackParentURL: import.meta.url };

/** @param {{ sourceCondition: boolean, fallbackParentURL: string }} data */
export function initialize(data) {
  options = data;
}

/**
 * @param {string} specifier
 * @param {{ conditions: string[], parentURL?: string }} context
 * @param {(specifier: string, context: object) => Promise<object>} nextResolve
 */
export async function resolve(specifier, context, nextResolve) {
  if (!specifier.startsWith('@tributary/')) return nextResolve(specifier, context);
  const conditions =
    options.sourceCondition && !context.conditions.includes('source')
      ? [...context.conditions, 'source']
      : context.conditions;
  try {
    return await nextResolve(specifier, { ...context, conditions });
  } catch (error) {
    if (/** @type {{ code?: string }} */ (error).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return nextResolve(specifier, {
      ...context,
      conditions,
      parentURL: options.fallbackParentURL,
    });
  }
}
