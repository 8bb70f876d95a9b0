// The operation runner: every batch-norm operation is a declarative list of passes (kernel variant,
// grid, bindings by name) over named tensors, and this is the one piece of code that runs such a list.
// It checks the tensors the operation writes, plans windows, finds parameters and scratch, allocates
// outputs, records the passes into one compute pass, and then either submits (inside error scopes, whose
// verdict the outputs' readbacks report) or leaves the submit to the caller who passed an encoder.
import { planChunks, type Chunk } from './chunking.js';
import { planPasses, type Grid, type PassPlan } from './dispatch.js';
import type { Gpu } from '../runtime/gpu.js';
import { LruMap } from '../runtime/lru.js';
import { bindGroup, getKernel, isWritable, type BindingName, type KernelName, type KernelVariant } from './kernels.js';
import { describeValue } from '../runtime/options.js';
import { paramsBuffer, paramsSlot } from './params.js';
import { scratchFor } from '../runtime/scratch.js';
import type { ChannelLayout } from '../runtime/shape.js';
import { Tensor, type DType } from '../runtime/tensor.js';
import { BYTES_PER_VALUE, type Storage } from './element-storage.js';
import { assertOutput } from '../runtime/validate.js';
import { firstError, lastWriteVerdict, NO_ERROR, overlaps, recordWrite } from '../runtime/write-log.js';

/** How an operation uses a tensor: reads it, writes it, or updates it in place (running statistics). */
export type Access = 'read' | 'write' | 'update';

export interface TensorRole {
  /** The name messages use ('x', 'out.y', 'runningMean'). */
  readonly name: string;
  /** The tensor; null for an absent optional tensor, or for an output to allocate. */
  readonly tensor: Tensor | null;
  readonly access: Access;
  /** For an output: its shape and dtype, and the label of the tensor allocated when none was given. */
  readonly output?: { readonly shape: readonly number[]; readonly dtype: DType; readonly label: string };
}

/**
 * An output's role: written into the caller's `out` tensor when one was given, else into a tensor
 * allocated with `allocate`; with `allocate` null the call does not write it (the caller's `out` was
 * refused before), and the kernels get a placeholder.
 */
export function outputRole(
  name: string,
  provided: unknown,
  allocate: { readonly shape: readonly number[]; readonly dtype: DType; readonly label: string } | null,
): TensorRole {
  return { name, tensor: (provided as Tensor | undefined) ?? null, access: 'write', ...(allocate ? { output: allocate } : {}) };
}

/** What a binding is bound to. */
export type Resource =
  | { readonly kind: 'params' }
  | { readonly kind: 'tensor'; readonly role: string; readonly window: boolean }
  | { readonly kind: 'scratch'; readonly name: string; readonly bytes: number };

export const params: Resource = { kind: 'params' };
/** A per-channel tensor, bound whole (a placeholder when it is absent). */
export const whole = (role: string): Resource => ({ kind: 'tensor', role, window: false });
/** A tensor of x's shape, bound one window at a time. */
export const windowOf = (role: string): Resource => ({ kind: 'tensor', role, window: true });
export const scratch = (name: string, bytes: number): Resource => ({ kind: 'scratch', name, bytes });

/**
 * 'reduce' and 'apply' passes dispatch once per window of x, with that window's grid; 'finalize' once;
 * 'single' one workgroup (a mask's count).
 */
export type GridKind = 'reduce' | 'apply' | 'finalize' | 'single';

export interface PassSpec {
  readonly variant: KernelVariant;
  readonly grid: GridKind;
  readonly bindings: Readonly<Record<string, Resource>>;
}

/** A pass of kernel K, with a resource for each of K's bindings (the type checker holds them in step). */
export function pass<K extends KernelName>(
  variant: KernelVariant & { readonly kernel: K },
  grid: GridKind,
  bindings: Readonly<Record<BindingName<K>, Resource>>,
): PassSpec {
  return { variant, grid, bindings };
}

/**
 * Where an operation's GPU work goes: every operation's options take these.
 *
 * Without `encoder` the operation submits its own command buffer at once, and a GPU error of it rejects its outputs'
 * `toArray()` and `ready()`.
 */
export interface EncoderOptions {
  /**
   * Record the operation's one compute pass into this encoder of yours and submit nothing: you call
   * `queue.submit([encoder.finish()])`, once, after any number of calls. Outputs hold their results only
   * after that submit; GPU errors of the recorded work surface in your error scopes, not in `toArray()`.
   * Argument errors still throw at once, before anything is recorded. Default: none (submit at once).
   */
  readonly encoder?: GPUCommandEncoder | undefined;
  /**
   * GPU timestamps written at the beginning and/or end of the operation's compute pass, as WebGPU's
   * `GPUComputePassTimestampWrites`. Needs the 'timestamp-query' feature ({@link GpuFeatures.timestampQuery}).
   * Default: none.
   */
  readonly timestampWrites?: GPUComputePassTimestampWrites | undefined;
}

export interface OperationSpec<R extends string> extends EncoderOptions {
  readonly label: string;
  /** x's view as (N, C, spatial); windows and grids are planned from it. */
  readonly layout: ChannelLayout;
  readonly roles: Readonly<Record<R, TensorRole>>;
  readonly shared: { readonly flags: number; readonly eps: number; readonly momentum: number };
  /** Whether the operation runs a reduction pass (the plan sizes the finalize by it). */
  readonly reduces: boolean;
  /** Whether its statistics are a mask's (dispatch.ts planPasses: scalar Elems); default false. */
  readonly masked?: boolean;
  /** How the tensors of x's shape are stored (the plan's windows and elements follow it). */
  readonly storage: Storage;
  readonly passes: (plan: PassPlan) => readonly PassSpec[];
  /**
   * Only the SyncBatchNorm building blocks take an x without elements (a replica's empty batch; every
   * other operation refuses it before): then no pass runs, and these outputs, sums or statistics over
   * nothing, are written as zeros.
   */
  readonly zeroedWhenEmpty?: readonly NoInfer<R>[];
}

/** Windows (chunks of x that fit one binding: chunking.ts) and the dispatches of each pass over them. */
export function planOperation(gpu: Gpu, layout: ChannelLayout, reduces: boolean, storage: Storage = 'f32', masked = false): PassPlan {
  // Plans depend only on these and the device, and a training loop repeats a few: keep the recent ones.
  let plans = planCaches.get(gpu);
  if (!plans) planCaches.set(gpu, (plans = new LruMap(PLANS_PER_GPU)));
  return plans.getOrCreate(planKey(layout, reduces, storage, masked), () => {
    const { limits } = gpu.device;
    const bytes = BYTES_PER_VALUE[storage];
    const chunks = planChunks(layout, gpu.maxBindingBytes, limits.minStorageBufferOffsetAlignment, bytes);
    return planPasses(layout, chunks, limits.maxComputeWorkgroupsPerDimension, reduces, gpu, bytes, masked);
  });
}

/** What a plan depends on besides the device. */
function planKey(layout: ChannelLayout, reduces: boolean, storage: Storage, masked: boolean): string {
  return `${layout.batch},${layout.channels},${layout.spatial},${reduces},${storage}${masked ? ',masked' : ''}`;
}

const PLANS_PER_GPU = 64;
const planCaches = new WeakMap<Gpu, LruMap<string, PassPlan>>();

/**
 * Runs `spec` and returns its tensors by role: the given ones, and the outputs it allocated. Nothing is
 * allocated before every check has passed, and what was allocated is freed if a later step throws.
 */
export function runOperation<R extends string>(gpu: Gpu, spec: OperationSpec<R>): Record<R, Tensor | null> {
  gpu.assertAlive();
  const roles = spec.roles as Readonly<Record<string, TensorRole>>;
  let encode: (tensors: Record<string, Tensor | null>) => void;
  if (spec.layout.batch * spec.layout.spatial === 0) {
    checkWrittenTensors(gpu, roles, []);
    checkRecording(gpu, spec);
    encode = (tensors) => encodeEmpty(gpu, spec, tensors);
  } else {
    const plan = planOperation(gpu, spec.layout, spec.reduces, spec.storage, spec.masked);
    const passes = spec.passes(plan);
    checkWrittenTensors(gpu, roles, passes);
    checkBufferSharing(roles, passes);
    checkRecording(gpu, spec);
    encode = (tensors) => encodePasses(gpu, spec, plan, passes, tensors);
  }

  const record = () => {
    const tensors: Record<string, Tensor | null> = {};
    const allocated: Tensor[] = [];
    try {
      for (const [role, { tensor, output }] of Object.entries(roles)) {
        let t = tensor;
        if (!t && output) allocated.push((t = Tensor.allocate(gpu, output.shape, output.dtype, output.label)));
        tensors[role] = t;
      }
      encode(tensors);
    } catch (error) {
      for (const t of allocated) t.destroy();
      throw error;
    }
    return tensors;
  };

  // Verdicts of what this operation reads, taken now: a later write must not change them.
  const upstream = firstError(
    Object.values(roles)
      .filter((r) => r.tensor && r.access !== 'write')
      .map((r) => lastWriteVerdict(r.tensor!)),
  );
  let tensors: Record<string, Tensor | null>;
  let own: Promise<Error | null>;
  if (spec.encoder) {
    // The caller's error scopes see this work's errors when they submit it.
    tensors = record();
    own = NO_ERROR;
  } else {
    const scoped = gpu.scoped(spec.label, record);
    tensors = scoped.result;
    own = scoped.error;
  }
  const written = firstError([own, upstream]);
  for (const [role, { access }] of Object.entries(roles)) {
    const t = tensors[role];
    if (!t || access === 'read') continue;
    // A failed submit runs none of its work, so a tensor updated in place keeps its good contents; only
    // bad data it was computed from (upstream) spoils it. Outputs carry this call's verdict as well.
    recordWrite(t, access === 'update' ? upstream : written);
  }
  return tensors as Record<R, Tensor | null>;
}

/**
 * @internal
 * The benchmark's per-pass timing (bench/gpu-timing.ts), and nothing else: while `withPassTimer`'s
 * body runs, each pass an operation on the timer's device records goes into a compute pass of its own,
 * with the timestamps `writesFor` gives it. The pass is named by its kernel, the key of its record in
 * kernels.ts. Outside that body an operation records one compute pass, as always.
 */
export interface PassTimer {
  readonly device: GPUDevice;
  writesFor(kernel: KernelName): GPUComputePassTimestampWrites;
}

let activePassTimer: PassTimer | null = null;

/** @internal Runs `body` (which records operations, synchronously) with `timer` timing each pass. */
export function withPassTimer<T>(timer: PassTimer, body: () => T): T {
  if (activePassTimer) throw new Error('internal: pass timers do not nest');
  activePassTimer = timer;
  try {
    return body();
  } finally {
    activePassTimer = null;
  }
}

function encodePasses(gpu: Gpu, spec: OperationSpec<string>, plan: PassPlan, passes: readonly PassSpec[], tensors: Record<string, Tensor | null>): void {
  const timer = activePassTimer?.device === gpu.device ? activePassTimer : null;
  if (timer && spec.timestampWrites) throw new Error('internal: timestampWrites and the per-pass timer both want the timestamps');
  const params = paramsBuffer(gpu, planKey(spec.layout, spec.reduces, spec.storage, spec.masked ?? false), plan, spec.layout, spec.shared);
  const scratchBuffers = scratchFor(gpu);
  const resolve = (resource: Resource, binding: string, slot: number, chunk: Chunk): GPUBufferBinding => {
    switch (resource.kind) {
      case 'params':
        return paramsSlot(params, slot);
      case 'scratch':
        return { buffer: scratchBuffers.storage(resource.name, resource.bytes) };
      case 'tensor': {
        const t = tensors[resource.role];
        if (!t) return { buffer: scratchBuffers.placeholder(binding) };
        if (!resource.window) return t.binding;
        return { buffer: t.buffer, offset: t.byteOffset + chunk.bindOffset, size: chunk.bindSize };
      }
    }
  };
  const record = (computePass: GPUComputePassEncoder, p: PassSpec) => {
    const kernel = getKernel(gpu, p.variant);
    computePass.setPipeline(kernel.pipeline);
    const dispatchOnce = (slot: number, chunk: Chunk, grid: Grid) => {
      const resources: Record<string, GPUBufferBinding> = {};
      for (const [binding, resource] of Object.entries(p.bindings)) resources[binding] = resolve(resource, binding, slot, chunk);
      computePass.setBindGroup(0, bindGroup(gpu, kernel, resources));
      computePass.dispatchWorkgroups(grid.x, grid.y);
    };
    if (p.grid === 'finalize') dispatchOnce(0, plan.windows[0]!.chunk, plan.finalizeGrid);
    else if (p.grid === 'single') dispatchOnce(0, plan.windows[0]!.chunk, { x: 1, y: 1 });
    else plan.windows.forEach((w, slot) => dispatchOnce(slot, w.chunk, p.grid === 'reduce' ? w.reduceGrid : w.applyGrid));
  };
  const encoder = spec.encoder ?? gpu.device.createCommandEncoder({ label: spec.label });
  if (timer) {
    for (const p of passes) {
      const computePass = encoder.beginComputePass({ label: `${spec.label}: ${p.variant.kernel}`, timestampWrites: timer.writesFor(p.variant.kernel) });
      record(computePass, p);
      computePass.end();
    }
  } else {
    const computePass = encoder.beginComputePass(spec.timestampWrites ? { label: spec.label, timestampWrites: spec.timestampWrites } : { label: spec.label });
    for (const p of passes) record(computePass, p);
    computePass.end();
  }
  if (!spec.encoder) gpu.device.queue.submit([encoder.finish()]);
}

/**
 * An operation over an x without elements: its one compute pass is empty (its timestamps are still
 * written), and the outputs in `zeroedWhenEmpty` are cleared.
 */
function encodeEmpty(gpu: Gpu, spec: OperationSpec<string>, tensors: Record<string, Tensor | null>): void {
  const encoder = spec.encoder ?? gpu.device.createCommandEncoder({ label: spec.label });
  if (spec.timestampWrites) encoder.beginComputePass({ label: spec.label, timestampWrites: spec.timestampWrites }).end();
  for (const role of spec.zeroedWhenEmpty ?? []) {
    const t = tensors[role]!;
    encoder.clearBuffer(t.buffer, t.byteOffset, t.byteLength); // per-channel f32 tensors: 4-byte multiples
  }
  if (!spec.encoder) gpu.device.queue.submit([encoder.finish()]);
}

/**
 * Given outputs must be usable and of their shape; nothing the operation writes, or binds writable
 * (the inference finalize binds the running statistics read_write), may overlap another tensor.
 */
function checkWrittenTensors(gpu: Gpu, roles: Readonly<Record<string, TensorRole>>, passes: readonly PassSpec[]): void {
  const present = Object.values(roles).filter((r): r is TensorRole & { tensor: Tensor } => r.tensor !== null);
  for (const role of present) {
    if (role.access === 'write' && role.output) assertOutput(gpu, role.tensor, role.name, role.output.shape, role.output.dtype);
  }
  const boundWritable = new Set<string>();
  for (const p of passes) {
    for (const [binding, resource] of Object.entries(p.bindings)) {
      if (resource.kind === 'tensor' && isWritable(p.variant.kernel, binding)) boundWritable.add(resource.role);
    }
  }
  const writable = new Set(present.filter((r) => r.access !== 'read' || [...boundWritable].some((name) => roles[name] === r)));
  for (const written of writable) {
    for (const other of present) {
      if (other === written || !overlaps(written.tensor, other.tensor)) continue;
      const how = other.tensor === written.tensor ? 'is the same tensor as' : 'overlaps';
      throw new Error(`${written.name} ${how} ${other.name}; a tensor the operation writes must not alias its other tensors`);
    }
  }
}

/**
 * WebGPU forbids one dispatch from writing a buffer through one binding while reading it through
 * another, even in disjoint ranges: refuse tensors that share a caller's buffer that way.
 */
function checkBufferSharing(roles: Readonly<Record<string, TensorRole>>, passes: readonly PassSpec[]): void {
  for (const p of passes) {
    const uses: { role: TensorRole; writable: boolean }[] = [];
    for (const [binding, resource] of Object.entries(p.bindings)) {
      if (resource.kind !== 'tensor') continue;
      const role = roles[resource.role];
      if (role?.tensor) uses.push({ role, writable: isWritable(p.variant.kernel, binding) });
    }
    for (const a of uses) {
      for (const b of uses) {
        if (a.role === b.role || !a.writable || b.writable || a.role.tensor!.buffer !== b.role.tensor!.buffer) continue;
        throw new Error(
          `${a.role.name} and ${b.role.name} are regions of one GPUBuffer ('${a.role.tensor!.buffer.label}'); WebGPU does not let one ` +
            `dispatch (the ${p.variant.kernel} pass) write one region of a buffer while reading another: put them in separate buffers`,
        );
      }
    }
  }
}

/** The encoder and timestampWrites, checked before anything is recorded (a half-recorded pass would lock the caller's encoder). */
function checkRecording(gpu: Gpu, { encoder, timestampWrites }: EncoderOptions): void {
  if (encoder !== undefined && typeof (encoder as Partial<GPUCommandEncoder> | null)?.beginComputePass !== 'function') {
    throw new TypeError(`encoder must be a GPUCommandEncoder, got ${describeValue(encoder)}`);
  }
  if (timestampWrites === undefined) return;
  if (!gpu.features.timestampQuery) {
    throw new Error("timestampWrites need the WebGPU feature 'timestamp-query', which this device does not have");
  }
  const { querySet, beginningOfPassWriteIndex: begin, endOfPassWriteIndex: end } = timestampWrites;
  const set = querySet as Partial<GPUQuerySet> | undefined;
  if (!set || typeof set.count !== 'number' || set.type !== 'timestamp') {
    throw new TypeError(`timestampWrites.querySet must be a GPUQuerySet of type 'timestamp', got ${describeValue(querySet)}`);
  }
  if (begin === undefined && end === undefined) {
    throw new TypeError('timestampWrites needs beginningOfPassWriteIndex, endOfPassWriteIndex or both');
  }
  for (const [name, index] of [['beginningOfPassWriteIndex', begin], ['endOfPassWriteIndex', end]] as const) {
    if (index !== undefined && !(Number.isInteger(index) && index >= 0 && index < set.count)) {
      throw new RangeError(`timestampWrites.${name} must be an integer in [0, ${set.count}) (the query set's count), got ${describeValue(index)}`);
    }
  }
  if (begin !== undefined && begin === end) throw new RangeError(`timestampWrites writes both timestamps to index ${begin}; they must differ`);
}
