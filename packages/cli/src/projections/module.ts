import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { UpcasterChain } from '@tributary/core';
import { validateProjection, type AnyProjection } from '@tributary/projections';
import { UsageError } from '../output.js';

/** What a user's projections module provides. */
export interface LoadedProjectionsModule {
  readonly projections: readonly AnyProjection[];
  readonly upcasters: UpcasterChain | undefined;
}

/**
 * Loads the user's projections module (`export const projections = [...]`, optional
 * `upcasters`; or the same as members of the default export) and validates each projection.
 *
 * @throws UsageError when the module exports no projections.
 */
export async function loadProjectionsModule(path: string): Promise<LoadedProjectionsModule> {
  const loaded = (await import(pathToFileURL(resolve(path)).href)) as {
    projections?: unknown;
    default?: { projections?: unknown; upcasters?: unknown };
    upcasters?: unknown;
  };
  const projections = loaded.projections ?? loaded.default?.projections;
  if (!Array.isArray(projections) || projections.length === 0) {
    throw new UsageError(`${path} must export a non-empty array named "projections"`);
  }
  for (const projection of projections as AnyProjection[]) validateProjection(projection);
  const upcasters = (loaded.upcasters ?? loaded.default?.upcasters) as UpcasterChain | undefined;
  return { projections: projections as AnyProjection[], upcasters };
}
