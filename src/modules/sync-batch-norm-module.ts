// SyncBatchNorm: the module whose training forward normalizes with the statistics of every replica's
// batch, as PyTorch's nn.SyncBatchNorm (torch/nn/modules/_functions.py), over a process group the caller
// supplies (src/modules/sync-group.ts). It is a BatchNorm (the same parameters, running statistics, state dict
// and Keras weights, held by an inner BatchNorm) whose training forward and backward run the building
// blocks (src/ops/sync-batch-norm.ts) around one collective each; in eval, or in a group of one, it is that
// BatchNorm's own forward.
import {
  assertOwnGradientOutputs,
  BatchNorm,
  differentiatingWeight,
  ownGradients,
  type BatchNormModuleGradients,
  type BatchNormBaseOptions,
  type BatchNormModuleOptions,
  type BatchNormStateDict,
  type BatchNormStateDictInput,
  type KerasBatchNormBaseOptions,
  type KerasBatchNormOptions,
  type ModuleParameter,
  type RunningVarEstimator,
  type StateValues,
} from './batch-norm-module.js';
import type { BatchNormBackwardResult } from '../ops/batch-norm-backward.js';
import { assertGpu, type Gpu } from '../runtime/gpu.js';
import { describeValue, readOptions } from '../runtime/options.js';
import { channelLayout } from '../runtime/shape.js';
import {
  batchNormBackwardElemt,
  batchNormBackwardReduce,
  batchNormElemt,
  batchNormGatherStats,
  batchNormStats,
  type BatchNormBackwardReduceResult,
} from '../ops/sync-batch-norm.js';
import { assertSyncGroup, checkedAllGather, checkedAllReduceSum, type SyncGroup } from './sync-group.js';
import { backwardMessage, forwardFailure, forwardMessage, readBackward, readForward, type SyncConfig } from './sync-message.js';
import { Tensor } from '../runtime/tensor.js';
import { assertBoolean, assertOutput, assertSameShapeAndDType, assertUsableTensor, optionalMask, type Activation } from '../runtime/validate.js';
import { recordWrite } from '../runtime/write-log.js';

/** Options of `new SyncBatchNorm`: the process group, and BatchNorm's options but batch renormalization (not synchronized). */
export interface SyncBatchNormOptions<Affine extends boolean = boolean> extends BatchNormBaseOptions<Affine> {
  /**
   * The process group of the replicas: {@link createLocalGroup}'s, `webgpu-batchnorm/node`'s
   * `joinWorkerGroup`, or any object of {@link SyncGroup}'s shape.
   */
  group: SyncGroup;
}

/** Options of {@link SyncBatchNorm.keras}: the process group, and Keras's BatchNormalization options but renorm (not synchronized). */
export interface KerasSyncBatchNormOptions<Scale extends boolean = boolean, Center extends boolean = boolean> extends KerasBatchNormBaseOptions<Scale, Center> {
  /** The process group of the replicas, as {@link SyncBatchNormOptions.group}. */
  group: SyncGroup;
}

/** Options of one {@link SyncBatchNorm.forward}. */
export interface SyncBatchNormForwardOptions {
  /** Overrides the module's mode for this call. */
  training?: boolean;
  /** A tensor of yours to write y into (and return) instead of allocating one. */
  out?: {
    /** x's shape and dtype; must not overlap x. */
    y?: Tensor;
  };
  /**
   * A residual z added after the normalization and before the activation, as {@link BatchNorm.forward}'s:
   * y = act(bn(x) + z), x's shape and dtype. The next {@link SyncBatchNorm.backward} then also returns dz.
   * With a ReLU, keep y alive until backward (its sign is the mask). Default none.
   */
  residual?: Tensor | null;
  /**
   * Keras's `mask`, as {@link BatchNorm.forward}'s: this replica's f32 tensor of x's shape without the
   * channel axis. A training forward's statistics are over the positions every replica's mask keeps (the
   * exchanged count is this replica's kept positions); eval ignores it. Keep it alive and unwritten until
   * backward. Default none.
   */
  mask?: Tensor | null;
}

/** Options of one {@link SyncBatchNorm.backward}: where to write. */
export interface SyncBatchNormBackwardOptions {
  /** Tensors of yours to write instead of allocating new ones; each is returned in the result. */
  out?: {
    /** Written with dx: x's shape and dtype. */
    dx?: Tensor;
    /** With a weight only: written with this replica's dweight, f32 [numFeatures]. */
    dweight?: Tensor;
    /** With a weight only: written with this replica's dbias, f32 [numFeatures]. */
    dbias?: Tensor;
    /** After a forward with a residual only: written with dz, x's shape and dtype. */
    dz?: Tensor;
  };
}

/** @internal The keys of each options type (test/unit/options-types.test.ts checks them against the types). */
export const SYNC_MODULE_OPTION_KEYS = ['group', 'eps', 'momentum', 'affine', 'trackRunningStats', 'axis', 'activation'] as const;
/** @internal */
export const SYNC_KERAS_OPTION_KEYS = ['group', 'axis', 'momentum', 'epsilon', 'center', 'scale'] as const;
/** @internal */
export const SYNC_FORWARD_OPTION_KEYS = ['training', 'out', 'residual', 'mask'] as const;
/** @internal */
export const SYNC_FORWARD_OUT_KEYS = ['y'] as const;
/** @internal */
export const SYNC_BACKWARD_OPTION_KEYS = ['out'] as const;
/** @internal */
export const SYNC_BACKWARD_OUT_KEYS = ['dx', 'dweight', 'dbias', 'dz'] as const;

/**
 * What the last forward saved for backward: the inner BatchNorm's forward ('local', which saved its
 * own), a synchronized forward (its x, the global statistics and the versions of what backward reads), or
 * an eval forward of an empty x (nothing to differentiate).
 */
type Saved =
  | { readonly kind: 'local' }
  | { readonly kind: 'empty'; readonly x: Tensor; readonly residual: boolean }
  | {
      readonly kind: 'sync';
      readonly x: Tensor;
      /** With a residual: the forward's y with a ReLU (its sign is the mask), else null. */
      readonly residual: { readonly y: Tensor | null } | null;
      /** The forward's mask of positions, or null. */
      readonly mask: Tensor | null;
      readonly mean: Tensor;
      readonly invstd: Tensor;
      readonly versions: ReadonlyMap<Tensor, { name: string; version: number }>;
    };

/** The tensors that cross the group each step, owned by the module and rewritten in place. */
interface Exchange {
  readonly localMean: Tensor;
  readonly localVariance: Tensor;
  readonly means: Tensor;
  readonly variances: Tensor;
  readonly counts: Tensor;
  readonly sumDy: Tensor;
  readonly sumDyXmu: Tensor;
}

const INNER = Symbol('SyncBatchNorm inner module');

/**
 * Batch normalization over the batches of several replicas, as PyTorch's nn.SyncBatchNorm.
 *
 * In training, each replica's forward normalizes its own x with the mean and variance of every replica's x together
 * (as one BatchNorm over the concatenated batch would), and its backward gives the dx that batch's
 * backward would. The replicas meet through a process group you supply ({@link SyncGroup}): each forward
 * reads back its 2C + 1 statistics (mean, biased variance, count) and all-gathers them with a header (its
 * status and configuration); each backward reads back its 2C gradient sums and all-reduces them with a
 * status slot per replica. Both are therefore async. A call that refuses its input still joins its
 * exchange as a failure, so that every replica's call rejects, naming it, and none waits forever.
 *
 * As PyTorch's:
 * - in eval mode, or in a group of size 1, forward and backward are BatchNorm's (no exchange: a replica
 *   may evaluate alone);
 * - a replica with an empty batch (x with N = 0) still takes part in every exchange and returns an empty y
 *   (and dx); it contributes nothing to the statistics;
 * - dweight and dbias are this replica's own (its share of the sums): add them over the replicas in your
 *   data-parallel step, with the other parameters' gradients, as DistributedDataParallel does.
 *
 * Otherwise it is a BatchNorm: the same options, parameters, running statistics, numBatchesTracked, state
 * dict and Keras weights, so a trained layer's state loads into either. Its training forward cannot be
 * recorded into an encoder: it waits for the readback and the exchange.
 *
 * @example
 * ```ts
 * import { createLocalGroup, requestGpu, SyncBatchNorm, Tensor } from 'webgpu-batchnorm';
 *
 * const gpus = await Promise.all([requestGpu(), requestGpu()]);    // two devices, one replica each
 * const shard = (r: number) => Tensor.fromArray(gpus[r]!, Float32Array.from({ length: 4 * 16 }, Math.random), [4, 16]);
 * const [xs, dys] = [[shard(0), shard(1)], [shard(0), shard(1)]];
 * const groups = createLocalGroup(2);                              // two replicas in this process
 * const bns = groups.map((group, r) => new SyncBatchNorm(gpus[r]!, 16, { group }));
 * const ys = await Promise.all(bns.map((bn, r) => bn.forward(xs[r]!))); // statistics of both batches
 * const grads = await Promise.all(bns.map((bn, r) => bn.backward(dys[r]!)));
 * ```
 */
export class SyncBatchNorm<HasWeight extends boolean = true, HasBias extends boolean = HasWeight> {
  /** The process group this replica exchanges through. */
  readonly group: SyncGroup;
  readonly #local: BatchNorm<HasWeight, HasBias>;
  #exchange: Exchange | null = null;
  #saved: Saved | null = null;
  #busy = false;
  /** Rejects the forward or backward in flight (destroy()). */
  #abandon: ((error: Error) => void) | null = null;
  #destroyed = false;

  /**
   * A module as nn.SyncBatchNorm(numFeatures, eps, momentum, affine, track_running_stats, process_group),
   * with PyTorch's defaults; its tensors are created on `gpu` at once.
   *
   * @param gpu - The Gpu its tensors live on: this replica's.
   * @param numFeatures - C, the number of channels: a positive integer.
   * @param options - The group (required) and BatchNorm's options.
   */
  constructor(gpu: Gpu, numFeatures: number, options: SyncBatchNormOptions<HasWeight>) {
    const inner = (options as { [INNER]?: BatchNorm<HasWeight, HasBias> } | undefined)?.[INNER];
    if (inner) {
      this.group = (options as { group: SyncGroup }).group;
      this.#local = inner;
      return;
    }
    assertGpu(gpu, 'new SyncBatchNorm(gpu, ...): gpu');
    const { group, ...rest } = readOptions(options, 'SyncBatchNorm options', SYNC_MODULE_OPTION_KEYS, false);
    assertSyncGroup(group, 'SyncBatchNorm options.group');
    this.group = group;
    this.#local = new BatchNorm(gpu, numFeatures, rest as BatchNormModuleOptions) as unknown as BatchNorm<HasWeight, HasBias>;
  }

  /**
   * A synchronized keras.layers.BatchNormalization(synchronized=True): {@link BatchNorm.keras}'s
   * conventions (momentum, epsilon, the biased moving variance, gamma and beta apart) with the group.
   */
  static keras<Scale extends boolean = true, Center extends boolean = true>(
    gpu: Gpu,
    numFeatures: number,
    options: KerasSyncBatchNormOptions<Scale, Center>,
  ): SyncBatchNorm<Scale, Center> {
    const { group, ...rest } = readOptions(options, 'SyncBatchNorm.keras options', SYNC_KERAS_OPTION_KEYS, false);
    assertSyncGroup(group, 'SyncBatchNorm.keras options.group');
    const inner = BatchNorm.keras(gpu, numFeatures, rest as KerasBatchNormOptions<Scale, Center>);
    return new SyncBatchNorm(gpu, numFeatures, { group, [INNER]: inner } as SyncBatchNormOptions) as unknown as SyncBatchNorm<Scale, Center>;
  }

  /** The Gpu the module's tensors live on. */
  get gpu(): Gpu {
    return this.#local.gpu;
  }
  /** C, the number of channels (PyTorch's num_features). */
  get numFeatures(): number {
    return this.#local.numFeatures;
  }
  /** Added to the variance before the square root, as {@link BatchNorm.eps}. */
  get eps(): number {
    return this.#local.eps;
  }
  /** The weight of the batch statistics in the running ones, or null (cumulative average), as {@link BatchNorm.momentum}. */
  get momentum(): number | null {
    return this.#local.momentum;
  }
  /** Index of the channel dimension of x, negative from the end. */
  get axis(): number {
    return this.#local.axis;
  }
  /** The variance a training forward blends into runningVar: 'unbiased' (PyTorch) or 'biased' (Keras 3). */
  get runningVarEstimator(): RunningVarEstimator {
    return this.#local.runningVarEstimator;
  }
  /** The activation fused after the normalization: 'relu' or null. */
  get activation(): Activation | null {
    return this.#local.activation;
  }
  /** The learnable scale, f32 [numFeatures], owned by the module; null without one (as {@link BatchNorm.weight}). */
  get weight(): ModuleParameter<HasWeight> {
    return this.#local.weight;
  }
  /** The learnable shift, f32 [numFeatures], owned by the module; null without one. */
  get bias(): ModuleParameter<HasBias> {
    return this.#local.bias;
  }
  /** The running mean, f32 [numFeatures], owned by the module; null with `trackRunningStats: false`. */
  get runningMean(): Tensor | null {
    return this.#local.runningMean;
  }
  /** The running variance, f32 [numFeatures], owned by the module; null with `trackRunningStats: false`. */
  get runningVar(): Tensor | null {
    return this.#local.runningVar;
  }
  /** Training forwards run with running statistics (PyTorch's num_batches_tracked), as {@link BatchNorm.numBatchesTracked}. */
  get numBatchesTracked(): number {
    return this.#local.numBatchesTracked;
  }
  /** Sets the count, as assigning {@link BatchNorm.numBatchesTracked} does. */
  set numBatchesTracked(value: number) {
    this.#local.numBatchesTracked = value;
  }
  /** Module mode, as nn.Module.training: initially true. */
  get training(): boolean {
    return this.#local.training;
  }
  /** Sets the mode, as {@link SyncBatchNorm.train} does. */
  set training(mode: boolean) {
    this.#local.training = mode;
  }

  /** Sets training mode (like nn.Module.train); returns this. */
  train(mode = true): this {
    this.#local.train(mode);
    return this;
  }

  /** Sets inference mode (like nn.Module.eval); returns this. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Normalizes x and resolves with y. Training (the module's mode unless overridden) in a group of more
   * than one replica: this replica's statistics are read back and all-gathered, merged into the global
   * ones (the running statistics updated with them) and x normalized with those; every replica must call
   * forward, an empty x (N = 0) included, which resolves with an empty y. Otherwise BatchNorm's forward.
   * What the forward used is saved for {@link SyncBatchNorm.backward}.
   *
   * In a group of more than one replica, every training forward joins the all-gather, even one that
   * refuses its input: then every replica's forward rejects, naming the replica and its error, and the
   * next call of every replica is a new step. Replicas whose numFeatures, eps, momentum, weight or bias
   * differ reject on every replica, as do negative variances. An eval forward is local, as PyTorch's (a
   * replica may evaluate alone): a replica in eval beside others in training leaves them waiting until
   * the group's timeout, whose message names it.
   *
   * Ownership: y is yours (destroy() it when done) unless you pass `out.y`; keep x alive until backward.
   * One forward or backward of a module at a time: await each before the next.
   *
   * @param x - This replica's input, x.shape[axis] = numFeatures, of rank 2 to 5; f32 or f16.
   */
  async forward(x: Tensor, options: SyncBatchNormForwardOptions = {}): Promise<Tensor> {
    return this.#exclusive('forward', async () => {
      if (this.group.size > 1 && this.#trainsThisCall(options)) return this.#syncForward(x, options);
      const { training, outY, residual, mask } = this.#readForward(x, options);
      return this.#localForward(x, training, outY, residual, mask);
    });
  }

  /**
   * Whether a forward with these options trains: its `training` if that is a boolean, else the module's
   * mode (a forward whose options are refused then still takes its part in the exchange its mode implies).
   */
  #trainsThisCall(options: SyncBatchNormForwardOptions): boolean {
    const training = (options as { training?: unknown } | null | undefined)?.training;
    return typeof training === 'boolean' ? training : this.training;
  }

  /** The forward's options and x, checked; throws for bad input. */
  #readForward(x: Tensor, options: SyncBatchNormForwardOptions) {
    this.#assertUsable('forward');
    const o = readOptions(options, 'SyncBatchNorm.forward options', SYNC_FORWARD_OPTION_KEYS);
    const out = readOptions(o.out, 'SyncBatchNorm.forward options.out', SYNC_FORWARD_OUT_KEYS);
    const training = o.training ?? this.training;
    assertBoolean(training, 'SyncBatchNorm.forward options.training');
    assertUsableTensor(this.gpu, x, 'x');
    const { batch, spatial } = this.#layoutOf(x);
    const outY = out.y as Tensor | undefined;
    if (outY !== undefined) assertOutput(this.gpu, outY, 'out.y', x.shape, x.dtype);
    const residual = (o.residual ?? null) as Tensor | null;
    if (residual !== null) {
      assertSameShapeAndDType(residual, 'residual', x, 'x');
      assertUsableTensor(this.gpu, residual, 'residual');
    }
    const mask = optionalMask(this.gpu, o.mask, x.shape, this.axis);
    return { training, outY, residual, mask, empty: batch * spatial === 0 };
  }

  /** BatchNorm's forward (eval, or a group of one), or an empty y for an eval forward of an empty x. */
  #localForward(x: Tensor, training: boolean, outY: Tensor | undefined, residual: Tensor | null, mask: Tensor | null): Tensor {
    const local = this.#local;
    this.#releaseSaved();
    const { batch, spatial } = this.#layoutOf(x);
    if (batch * spatial === 0 && !training && local.runningMean) {
      // Nothing to normalize, as PyTorch's eval forward of an empty batch.
      this.#saved = { kind: 'empty', x, residual: residual !== null };
      return outY ?? Tensor.empty(local.gpu, x.shape, { dtype: x.dtype, label: 'SyncBatchNorm y' });
    }
    const y = local.forward(x, { training, residual, mask, ...(outY === undefined ? {} : { out: { y: outY } }) });
    this.#saved = { kind: 'local' };
    return y;
  }

  /**
   * The gradients of the last forward's output, as {@link BatchNorm.backward}. After a synchronized
   * forward, this replica's gradient sums are read back and all-reduced (every replica must call
   * backward), and dx is computed from the global sums: what the backward over the concatenated batch
   * gives this replica's x. dweight and dbias are this replica's share, to add over the replicas in your
   * data-parallel step. An empty x gives an empty dx and zero dweight and dbias.
   *
   * Ownership: dx, dweight and dbias are yours (destroy() them when done) unless you pass them in `out`.
   *
   * After a synchronized forward, a backward that refuses its dy (or options) still joins the all-reduce:
   * every replica's backward then rejects, naming the replica.
   *
   * @param dy - The gradient of the loss with respect to the last forward's y: its shape and dtype.
   */
  async backward(dy: Tensor, options: SyncBatchNormBackwardOptions = {}): Promise<BatchNormModuleGradients<HasWeight, HasBias>> {
    return this.#exclusive('backward', async () => {
      const saved = this.#saved;
      if (!saved) throw new Error('SyncBatchNorm.backward needs a forward first: this module has not run forward yet');
      if (saved.kind === 'sync') return ownGradients(this.#local, await this.#syncBackward(dy, saved, options));
      const { o, out } = this.#readBackward(saved, options);
      if (saved.kind === 'local') return this.#local.backward(dy, o);
      return ownGradients(this.#local, this.#emptyBackward(dy, saved.x, saved.residual, out));
    });
  }

  /**
   * The backward's options, checked, and what the forward saved checked still as it was; after a forward
   * that was not BatchNorm's (whose backward checks its own), the `out` tensors too. Throws for bad input.
   */
  #readBackward(saved: Saved, options: SyncBatchNormBackwardOptions) {
    this.#assertUsable('backward');
    const o = readOptions(options, 'SyncBatchNorm.backward options', SYNC_BACKWARD_OPTION_KEYS) as SyncBatchNormBackwardOptions;
    const out = readOptions(o.out, 'SyncBatchNorm.backward options.out', SYNC_BACKWARD_OUT_KEYS) as NonNullable<SyncBatchNormBackwardOptions['out']>;
    if (saved.kind !== 'local') {
      this.#assertSavedAlive(saved);
      const { x } = saved;
      assertOwnGradientOutputs(this.#local, out, 'SyncBatchNorm.backward');
      if (out.dx !== undefined) assertOutput(this.gpu, out.dx, 'out.dx', x.shape, x.dtype);
      if (out.dz !== undefined) {
        if (!saved.residual) throw new Error('out.dz is written only after a forward with a residual');
        assertOutput(this.gpu, out.dz, 'out.dz', x.shape, x.dtype);
      }
    }
    return { o, out };
  }

  /** As {@link BatchNorm.stateDict}: PyTorch's state_dict keys, the same for a BatchNorm of these options. */
  stateDict(): Promise<BatchNormStateDict> {
    this.#assertUsable('stateDict');
    return this.#local.stateDict();
  }

  /** As {@link BatchNorm.loadStateDict}: a BatchNorm's state dict (or PyTorch's) loads here, and this one's into a BatchNorm. */
  loadStateDict(stateDict: BatchNormStateDictInput): void {
    this.#assertUsable('loadStateDict');
    this.#local.loadStateDict(stateDict);
  }

  /** As {@link BatchNorm.getWeights}: Keras's get_weights() order. */
  getWeights(): Promise<Float32Array<ArrayBuffer>[]> {
    this.#assertUsable('getWeights');
    return this.#local.getWeights();
  }

  /** As {@link BatchNorm.setWeights}: Keras's set_weights() order. */
  setWeights(weights: readonly StateValues[]): void {
    this.#assertUsable('setWeights');
    this.#local.setWeights(weights);
  }

  /**
   * Frees the module's tensors (its parameters, running statistics, what its last forward saved and the
   * tensors it exchanges through), as {@link BatchNorm.destroy}; the group is yours. A forward or backward
   * still waiting for its exchange rejects at once. Idempotent.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#abandon?.(new Error('SyncBatchNorm: the module was destroyed while this call waited for its exchange'));
    this.#releaseSaved();
    this.#local.destroy();
    if (this.#exchange) for (const t of Object.values(this.#exchange)) t.destroy();
    this.#exchange = null;
  }

  /**
   * Runs one forward or backward at a time (a second one while the first awaits its exchange would cross
   * them), which destroy() abandons: the call rejects at once, and what the body does later is dropped.
   */
  async #exclusive<T>(method: string, body: () => Promise<T>): Promise<T> {
    if (this.#busy) throw new Error(`SyncBatchNorm.${method}: the module's previous forward or backward has not finished; await it first`);
    this.#busy = true;
    try {
      const run = body();
      const abandoned = new Promise<never>((_, reject) => (this.#abandon = reject));
      run.catch(() => undefined); // once abandoned, its own failure has nobody to reach
      return await Promise.race([run, abandoned]);
    } finally {
      this.#busy = false;
      this.#abandon = null;
    }
  }

  /** After each wait of a call: a module destroyed meanwhile goes no further. */
  #assertNotAbandoned(): void {
    if (this.#destroyed) throw new Error('SyncBatchNorm: the module was destroyed while this call waited for its exchange');
  }

  /** What every replica must share, for the forward's header. */
  #config(): SyncConfig {
    return { numFeatures: this.numFeatures, eps: this.eps, momentum: this.momentum, weight: this.weight !== null, bias: this.bias !== null };
  }

  #assertUsable(method: string): void {
    if (this.#destroyed) throw new Error(`SyncBatchNorm.${method}: this SyncBatchNorm module was destroyed`);
    this.#local.gpu.assertAlive();
  }

  /** x's layout (an empty batch allowed), its channels checked against numFeatures. */
  #layoutOf(x: Tensor) {
    const layout = channelLayout(x.shape, this.axis, true);
    if (layout.channels !== this.numFeatures) {
      throw new RangeError(`x has ${layout.channels} channels on axis ${this.axis} (shape [${x.shape.join(',')}]) but the module has numFeatures = ${this.numFeatures}`);
    }
    return layout;
  }

  /** The exchange's tensors, made at the first synchronized forward. */
  #exchangeTensors(): Exchange {
    if (this.#exchange) return this.#exchange;
    const { gpu, numFeatures: C } = this;
    const W = this.group.size;
    const make = (shape: number[], label: string) => Tensor.empty(gpu, shape, { label: `SyncBatchNorm ${label}` });
    this.#exchange = {
      localMean: make([C], 'local mean'),
      localVariance: make([C], 'local variance'),
      means: make([W, C], 'gathered means'),
      variances: make([W, C], 'gathered variances'),
      counts: make([W], 'gathered counts'),
      sumDy: make([C], 'sumDy'),
      sumDyXmu: make([C], 'sumDyXmu'),
    };
    return this.#exchange;
  }

  /** Writes host values into a tensor of the module, as a write of it (its version and verdict). */
  #upload(tensor: Tensor, data: Float32Array, what: string): void {
    const { error } = this.gpu.scoped(`SyncBatchNorm ${what} writing '${tensor.label}'`, () =>
      this.gpu.device.queue.writeBuffer(tensor.buffer, tensor.byteOffset, data.buffer, data.byteOffset, data.byteLength),
    );
    recordWrite(tensor, error);
  }

  /**
   * A training forward in a group of more than one replica: every replica sends its header and its
   * statistics whatever happens here, so that a refusal or a difference reaches every replica.
   */
  async #syncForward(x: Tensor, options: SyncBatchNormForwardOptions): Promise<Tensor> {
    const { gpu, numFeatures: C, group } = this;
    const what = `SyncBatchNorm.forward (rank ${group.rank} of ${group.size})`;
    let outY: Tensor | undefined;
    let residual: Tensor | null = null;
    let mask: Tensor | null = null;
    let message: Float32Array;
    let refusal: { error: unknown } | null = null;
    this.#releaseSaved(); // whatever happens, no replica's backward may use an earlier step's
    try {
      ({ outY, residual, mask } = this.#readForward(x, options));
      const exchange = this.#exchangeTensors();
      // This replica's (mean, variance, count): zeros and 0 for an empty x, which still joins the exchange.
      // With a mask the count is the positions it keeps, read back with the statistics.
      const stats = batchNormStats(gpu, x, { axis: this.axis, mask, out: { mean: exchange.localMean, variance: exchange.localVariance } });
      const [mean, variance, maskCount] = await Promise.all([stats.mean.toArray(), stats.variance.toArray(), stats.maskCount?.toArray()]);
      stats.maskCount?.destroy();
      const statistics = new Float32Array(2 * C + 1);
      statistics.set(mean, 0);
      statistics.set(variance, C);
      statistics[2 * C] = maskCount ? maskCount[0]! : stats.count;
      message = forwardMessage(this.#config(), statistics);
    } catch (error) {
      refusal = { error };
      message = forwardFailure(this.#config(), error);
    }
    const gathered = await checkedAllGather(group, message, what);
    this.#assertNotAbandoned();
    if (refusal) throw refusal.error;
    const parts = readForward(gathered, message, what);

    const W = group.size;
    const means = new Float32Array(W * C);
    const variances = new Float32Array(W * C);
    const counts = new Float32Array(W);
    parts.forEach((part, w) => {
      means.set(part.subarray(0, C), w * C);
      const variance = part.subarray(C, 2 * C);
      const negative = variance.findIndex((v) => v < 0);
      if (negative >= 0) throw new RangeError(`${what}: rank ${w} sent a negative variance, ${variance[negative]} for channel ${negative}`);
      variances.set(variance, w * C);
      const count = part[2 * C]!;
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`${what}: replica ${w} sent a count of ${describeValue(count)}, not a non-negative integer`);
      counts[w] = count;
    });
    const total = counts.reduce((a, b) => a + b, 0);
    if (total <= 1) {
      // As BatchNorm over the concatenated batch; every replica sees the same counts, so all of them throw.
      throw new RangeError(`Expected more than 1 value per channel when training, got ${total} over the group's ${W} replicas (counts ${Array.from(counts).join(', ')})`);
    }
    const exchange = this.#exchangeTensors();
    this.#upload(exchange.means, means, 'forward');
    this.#upload(exchange.variances, variances, 'forward');
    this.#upload(exchange.counts, counts, 'forward');

    const track = this.runningMean !== null;
    if (track) this.numBatchesTracked++;
    let global;
    try {
      global = batchNormGatherStats(gpu, {
        mean: exchange.means,
        variance: exchange.variances,
        counts: exchange.counts,
        runningMean: this.runningMean,
        runningVar: this.runningVar,
        momentum: this.momentum,
        numBatchesTracked: Math.max(this.numBatchesTracked, 1),
        eps: this.eps,
        runningVarEstimator: this.runningVarEstimator,
      });
    } catch (error) {
      if (track) this.numBatchesTracked--; // a rejected batch was not tracked
      throw error;
    }
    try {
      const { y } = batchNormElemt(gpu, x, {
        mean: global.mean,
        invstd: global.invstd,
        weight: this.weight,
        bias: this.bias,
        axis: this.axis,
        activation: this.activation,
        residual,
        ...(outY === undefined ? {} : { out: { y: outY } }),
      });
      // With a residual and a ReLU, backward reads the mask from y; otherwise it recomputes it from x and bias.
      const relu = this.activation === 'relu';
      const storedY = residual && relu ? y : null;
      const parameters = { weight: this.weight, ...(relu && !residual ? { bias: this.bias } : {}), ...(storedY ? { y: storedY } : {}) };
      const read = { x, ...parameters, ...(mask ? { mask } : {}), mean: global.mean, invstd: global.invstd };
      const versions = new Map(Object.entries(read).flatMap(([name, t]) => (t ? [[t, { name, version: t.version }] as const] : [])));
      this.#saved = { kind: 'sync', x, residual: residual ? { y: storedY } : null, mask, mean: global.mean, invstd: global.invstd, versions };
      return y;
    } catch (error) {
      global.mean.destroy();
      global.invstd.destroy();
      throw error;
    }
  }

  /**
   * A backward after a synchronized forward: every replica sends its status slot (and its sums) whatever
   * happens here, so that a refusal reaches every replica.
   */
  async #syncBackward(dy: Tensor, saved: Extract<Saved, { kind: 'sync' }>, options: SyncBatchNormBackwardOptions): Promise<BatchNormBackwardResult> {
    const { gpu, numFeatures: C, group } = this;
    const what = `SyncBatchNorm.backward (rank ${group.rank} of ${group.size})`;
    const exchange = this.#exchangeTensors();
    const forward = {
      mean: saved.mean,
      invstd: saved.invstd,
      weight: differentiatingWeight(this.#local),
      axis: this.axis,
      ...(this.activation === 'relu' ? { activation: this.activation, ...(saved.residual ? {} : { bias: this.bias }) } : {}),
      ...(saved.residual ? { residual: true, y: saved.residual.y } : {}),
    };
    let out: NonNullable<SyncBatchNormBackwardOptions['out']> = {};
    let sums: BatchNormBackwardReduceResult | null = null;
    let message: Float32Array;
    let refusal: { error: unknown } | null = null;
    try {
      ({ out } = this.#readBackward(saved, options)); // out checked before the exchange
      sums = batchNormBackwardReduce(gpu, dy, saved.x, {
        ...forward,
        out: { sumDy: exchange.sumDy, sumDyXmu: exchange.sumDyXmu, ...(out.dweight ? { dweight: out.dweight } : {}), ...(out.dbias ? { dbias: out.dbias } : {}) },
      });
      const [sumDy, sumDyXmu] = await Promise.all([sums.sumDy.toArray(), sums.sumDyXmu.toArray()]);
      const local = new Float32Array(2 * C);
      local.set(sumDy, 0);
      local.set(sumDyXmu, C);
      message = backwardMessage(group.rank, group.size, local, 2 * C);
    } catch (error) {
      refusal = { error };
      message = backwardMessage(group.rank, group.size, null, 2 * C);
    }
    const answer = await checkedAllReduceSum(group, message, what);
    this.#assertNotAbandoned();
    if (refusal) throw refusal.error;
    const total = readBackward(answer, group.size, what);
    this.#upload(exchange.sumDy, total.subarray(0, C), 'backward');
    this.#upload(exchange.sumDyXmu, total.subarray(C), 'backward');
    const { dx, dz } = batchNormBackwardElemt(gpu, dy, saved.x, {
      ...forward,
      sumDy: exchange.sumDy,
      sumDyXmu: exchange.sumDyXmu,
      counts: exchange.counts,
      mask: saved.mask,
      out: { ...(out.dx === undefined ? {} : { dx: out.dx }), ...(out.dz === undefined ? {} : { dz: out.dz }) },
    });
    return { dx, dweight: sums!.dweight, dbias: sums!.dbias, dz };
  }

  /** The gradients of an eval forward of an empty x: an empty dx, and zero dweight and dbias. */
  #emptyBackward(dy: Tensor, x: Tensor, residual: boolean, out: NonNullable<SyncBatchNormBackwardOptions['out']>): BatchNormBackwardResult {
    const { gpu } = this;
    assertSameShapeAndDType(dy, 'dy', x, 'x');
    assertUsableTensor(gpu, dy, 'dy');
    const zeros = (name: 'dweight' | 'dbias') => {
      const given = out[name];
      if (given === undefined) return Tensor.empty(gpu, [this.numFeatures], { label: `SyncBatchNorm ${name}` });
      assertOutput(gpu, given, `out.${name}`, [this.numFeatures], 'f32');
      this.#upload(given, new Float32Array(this.numFeatures), 'backward');
      return given;
    };
    return {
      dx: out.dx ?? Tensor.empty(gpu, x.shape, { dtype: x.dtype, label: 'SyncBatchNorm dx' }),
      dweight: this.weight ? zeros('dweight') : null,
      dbias: this.bias ? zeros('dbias') : null,
      dz: residual ? (out.dz ?? dy) : null,
    };
  }

  /** Backward's reads must be as the forward left them (PyTorch's version counters), and x alive. */
  #assertSavedAlive(saved: Exclude<Saved, { kind: 'local' }>): void {
    if (saved.x.isDestroyed) {
      throw new Error(
        `SyncBatchNorm.backward needs the input of the last forward ('${saved.x.label}', shape [${saved.x.shape.join(',')}]), which was destroyed; keep x alive until backward`,
      );
    }
    if (saved.kind !== 'sync') return;
    for (const [t, { name, version }] of saved.versions) {
      if (t.version !== version) {
        throw new Error(
          `SyncBatchNorm.backward: ${name} ('${t.label}') was written after the forward (now at version ${t.version}, saved at version ` +
            `${version}); one of the tensors needed for gradient computation was modified in place. Run the forward again`,
        );
      }
    }
  }

  /** Frees the global statistics the last synchronized forward saved. */
  #releaseSaved(): void {
    const saved = this.#saved;
    this.#saved = null;
    if (saved?.kind !== 'sync') return;
    saved.mean.destroy();
    saved.invstd.destroy();
  }
}
