// BatchNorm: the module (nn.BatchNorm1d/2d/3d): owns weight, bias and running statistics, tracks
// numBatchesTracked, and keeps what its last forward saved for backward(dy).
import { batchNorm } from './batch-norm.js';
import { batchNormBackward, type BatchNormBackwardCommon, type BatchNormBackwardResult } from './batch-norm-backward.js';
import { DEFAULT_EPS, DEFAULT_MOMENTUM } from './defaults.js';
import { assertGpu, type Gpu } from './gpu.js';
import { readOptions } from './options.js';
import type { Recording } from './runner.js';
import { Tensor } from './tensor.js';
import { assertBoolean, assertEps, assertMomentum } from './validate.js';

export interface BatchNormModuleOptions {
  eps?: number;
  /** Default 0.1; null means a cumulative moving average (factor 1/numBatchesTracked). */
  momentum?: number | null;
  /** Learnable weight (ones) and bias (zeros); default true. */
  affine?: boolean;
  /** Keep running statistics and use them in eval mode; default true. */
  trackRunningStats?: boolean;
}

/** Options of one forward call. */
export interface BatchNormForwardOptions extends Recording {
  /** Overrides the module's mode for this call. */
  training?: boolean;
}

/**
 * What the last forward saved for backward: its input (a reference, as PyTorch's saved tensors; the
 * caller keeps it alive), the statistics it normalized with, and the version of every tensor backward
 * reads, so that backward refuses a tensor written since (PyTorch's version counters).
 */
type Saved = (
  | { readonly x: Tensor; readonly training: true; readonly saveMean: Tensor; readonly saveInvstd: Tensor }
  | { readonly x: Tensor; readonly training: false; readonly runningMean: Tensor; readonly runningVar: Tensor }
) & { readonly versions: ReadonlyMap<Tensor, { name: string; version: number }> };

const MODULE_OPTION_KEYS = ['eps', 'momentum', 'affine', 'trackRunningStats'] as const;

export class BatchNorm {
  readonly gpu: Gpu;
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  numBatchesTracked = 0;
  /** Module mode, as nn.Module.training. */
  training = true;
  #destroyed = false;
  #saved: Saved | null = null;

  constructor(gpu: Gpu, numFeatures: number, options: BatchNormModuleOptions = {}) {
    assertGpu(gpu, 'new BatchNorm(gpu, ...): gpu');
    gpu.assertAlive();
    if (typeof numFeatures !== 'number' || !Number.isInteger(numFeatures) || numFeatures <= 0) {
      throw new RangeError(`numFeatures must be a positive integer, got ${String(numFeatures)}`);
    }
    const o = readOptions(options, 'BatchNorm options', MODULE_OPTION_KEYS);
    const eps = o.eps ?? DEFAULT_EPS;
    assertEps(eps);
    const momentum = o.momentum === undefined ? DEFAULT_MOMENTUM : o.momentum;
    if (momentum !== null) assertMomentum(momentum);
    const affine = o.affine ?? true;
    assertBoolean(affine, 'BatchNorm options.affine');
    const track = o.trackRunningStats ?? true;
    assertBoolean(track, 'BatchNorm options.trackRunningStats');
    this.gpu = gpu;
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    const filled = (value: number, label: string) =>
      Tensor.fromArray(gpu, new Float32Array(numFeatures).fill(value), [numFeatures], { label });
    this.weight = affine ? filled(1, 'BatchNorm weight') : null;
    this.bias = affine ? filled(0, 'BatchNorm bias') : null;
    this.runningMean = track ? filled(0, 'BatchNorm runningMean') : null;
    this.runningVar = track ? filled(1, 'BatchNorm runningVar') : null;
  }

  /** Sets training mode (like nn.Module.train); returns this. */
  train(mode = true): this {
    this.training = mode;
    return this;
  }

  /** Sets inference mode (like nn.Module.eval); returns this. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Normalizes x. Training (the module's mode unless overridden) uses batch statistics and updates the
   * running ones; eval uses the running statistics, or batch statistics without trackRunningStats.
   */
  forward(x: Tensor, options: BatchNormForwardOptions = {}): Tensor {
    if (this.#destroyed) throw new Error('this BatchNorm module was destroyed');
    const o = readOptions(options, 'BatchNorm.forward options', ['training', 'encoder', 'timestampWrites']);
    const training = o.training ?? this.training;
    assertBoolean(training, 'BatchNorm.forward options.training');
    const track = this.runningMean !== null;
    if (training && track) this.numBatchesTracked++;
    try {
      const { y, saveMean, saveInvstd } = batchNorm(this.gpu, x, {
        weight: this.weight,
        bias: this.bias,
        // As PyTorch: running statistics are used (eval) or updated (training) only when tracked.
        runningMean: this.runningMean,
        runningVar: this.runningVar,
        training: training || !track,
        momentum: this.momentum,
        numBatchesTracked: Math.max(this.numBatchesTracked, 1),
        eps: this.eps,
        ...(o.encoder === undefined ? {} : { encoder: o.encoder as GPUCommandEncoder }),
        ...(o.timestampWrites === undefined ? {} : { timestampWrites: o.timestampWrites as GPUComputePassTimestampWrites }),
      });
      this.#releaseSaved();
      const versions = (named: Record<string, Tensor | null>) =>
        new Map(Object.entries(named).flatMap(([name, t]) => (t ? [[t, { name, version: t.version }] as const] : [])));
      if (saveMean && saveInvstd) {
        this.#saved = { x, training: true, saveMean, saveInvstd, versions: versions({ x, weight: this.weight, saveMean, saveInvstd }) };
      } else if (this.runningMean && this.runningVar) {
        const { runningMean, runningVar } = this;
        this.#saved = { x, training: false, runningMean, runningVar, versions: versions({ x, weight: this.weight, runningMean, runningVar }) };
      }
      return y;
    } catch (error) {
      if (training && track) this.numBatchesTracked--; // a rejected batch was not tracked
      throw error;
    }
  }

  /**
   * Gradients of the last forward's output: dx, and dweight/dbias when the module is affine. A training
   * forward is differentiated through its batch statistics, an eval forward through the running ones
   * (as autograd of F.batch_norm). The input of that forward must still be alive, and neither it nor the
   * weight nor the statistics used may have been written since (an `out` of another call, an optimizer
   * step into the weight, a running-statistics update): backward refuses them, as PyTorch does.
   */
  backward(dy: Tensor, options: BatchNormBackwardCommon = {}): BatchNormBackwardResult {
    if (this.#destroyed) throw new Error('this BatchNorm module was destroyed');
    const saved = this.#saved;
    if (!saved) throw new Error('BatchNorm.backward needs a forward first: this module has not run forward yet');
    if (saved.x.isDestroyed) {
      throw new Error(
        `BatchNorm.backward needs the input of the last forward ('${saved.x.label}', shape [${saved.x.shape.join(',')}]), ` +
          'which was destroyed; keep x alive until backward',
      );
    }
    for (const [t, { name, version }] of saved.versions) {
      if (t.version !== version) {
        throw new Error(
          `BatchNorm.backward: ${name} ('${t.label}', shape [${t.shape.join(',')}]) was written after the forward (now at version ` +
            `${t.version}, saved at version ${version}); one of the tensors needed for gradient computation was modified in place. ` +
            'Run the forward again, or write the new values into other tensors',
        );
      }
    }
    const o = readOptions(options, 'BatchNorm.backward options', ['out', 'encoder', 'timestampWrites']) as BatchNormBackwardCommon;
    const weight = this.weight;
    return saved.training
      ? batchNormBackward(this.gpu, dy, saved.x, { ...o, weight, saveMean: saved.saveMean, saveInvstd: saved.saveInvstd, training: true })
      : batchNormBackward(this.gpu, dy, saved.x, {
          ...o, weight, runningMean: saved.runningMean, runningVar: saved.runningVar, eps: this.eps, training: false,
        });
  }

  /** Frees the module's tensors and what its last forward saved (not that forward's input). Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#releaseSaved();
    for (const t of [this.weight, this.bias, this.runningMean, this.runningVar]) t?.destroy();
  }

  #releaseSaved(): void {
    if (this.#saved?.training) {
      this.#saved.saveMean.destroy();
      this.#saved.saveInvstd.destroy();
    }
    this.#saved = null;
  }
}
