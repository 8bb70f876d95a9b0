// The benchmark harness's surface for the demo page and the command-line runners. It sits on top of the
// library: its public entries (src/index.ts, src/reference.ts), the pure modules src/runtime/shape.ts and
// src/reference/tolerances.ts, and internal hooks such as the runner's per-pass timer; nothing in the library imports it.
export {
  BACKWARD_BYTES_PER_ELEMENT,
  COPY_BYTES_PER_ELEMENT,
  FORWARD_BYTES_PER_ELEMENT,
  INFERENCE_BYTES_PER_ELEMENT,
  KERNEL_BYTES_PER_ELEMENT,
  ADD_RELU_BYTES_PER_ELEMENT,
  RESIDUAL_FUSED_BYTES_PER_ELEMENT,
  RESIDUAL_UNFUSED_BYTES_PER_ELEMENT,
  gigabytesPerSecond,
  median,
  summarizeTrials,
} from './statistics.js';
export type { BenchmarkSettings, TrialSummary } from './statistics.js';
export { INTERACTIVE_PRESETS, SWEEP, sweepUpTo } from './sweep.js';
export type { SweepShape } from './sweep.js';
export { adapterSlug, describeAdapter, describeEnvironment, EMULATION_NOTE, RELEVANT_LIMITS } from './environment.js';
export type { AdapterDescription, Environment } from './environment.js';
export {
  baselineOf,
  COMPOSITION_CALLS,
  COMPOSITION_SHAPE,
  DEFAULT_SETTINGS,
  EMULATED_SETTINGS,
  formatPercent,
  OPERATIONS,
  PEER_TIMING_METHOD,
  REPORT_SCHEMA,
  runBenchmark,
  speedups,
} from './benchmark.js';
export type {
  BenchmarkOptions,
  BenchmarkProgress,
  BenchmarkReport,
  BenchmarkRow,
  CompositionResult,
  ModelStepOptions,
  CopyMeasurement,
  GpuMeasurement,
  Operation,
  PassMeasurement,
  PeerSummary,
  ResidualComparison,
  ResidualMeasurement,
  VariantRow,
  WarmupRecord,
} from './benchmark.js';
export { gpuTimingMethod, passTimingMethod } from './gpu-timing.js';
export { readReport } from './report-schema.js';
export { checkVariants, DEFAULT_VARIANTS, numericsVariants, parseVariants, variantGpu } from './variants.js';
export type { GpuVariant, VariantOptions } from './variants.js';
export {
  formatComposition,
  formatCpuTable,
  formatGpuTable,
  formatModelSteps,
  formatNumber,
  formatPasses,
  formatPeers,
  formatResidual,
  formatSummary,
  formatVariantRatios,
  fractionCell,
  modelStepCells,
  modelStepTable,
  passesText,
  ratioCell,
  reportToCsv,
  reportToJson,
  timingCell,
} from './report-format.js';
export { caseKey, caseLabel, comparePeers, findComparison, ortSupports, PEER_CASES, shortLibraryName, tfjsSupports } from './peers.js';
export type { PeerCase, PeerComparison, PeerLayout, PeerMode, PeerTiming } from './peers.js';
export { comparePeerCase, loadPeers, ourContender, ShapeInputs } from './peer-harness.js';
export type { PeerOptions } from './peer-harness.js';
export type { Contender, PeerCaseData, PeerOutputs, PreparedPeerCase } from './contender.js';
export { EMULATED_MODEL_BATCHES, MODEL_BATCHES, parseModelBatches } from './model-step.js';
export type { ModelStepReport, ModelStepRow, ModelStepTiming } from './model-step.js';
export { elementAccuracy, forwardAccuracy } from './accuracy.js';
export { checkForwardBackward, runForwardBackward } from './check.js';
export type { CaseCheck, CaseInputs, CaseOutputs } from './check.js';
export { formatKernelPathCheck, KERNEL_PATHS, kernelPathCaseName, kernelPathCases, runKernelPathCase } from './kernel-paths.js';
export type { KernelPath, KernelPathCase, KernelPathDevices } from './kernel-paths.js';
export type { Accuracy } from './accuracy.js';
export { cpuBackwardFloat32, cpuForwardFloat32 } from './cpu-loops.js';
export { gaussian, seededUniform, syntheticInput, unitNoise } from './synthetic.js';
export type { SyntheticInput } from './synthetic.js';
