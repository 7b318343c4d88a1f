export {
  InMemoryReactorRuntime,
  type InMemoryReactorRuntimeOptions,
} from './in-memory-reactor-runtime.js';
export {
  reactorSpec,
  type ReactorOutcome,
  type ReactorScenario,
  type ReactorSpecOptions,
  type RecordedCommand,
} from './reactor-specification.js';
export {
  createWholeFlow,
  type FlowService,
  type FlowServiceDefinition,
  type WholeFlow,
  type WholeFlowOptions,
} from './whole-flow.js';
