// The tests' comparisons of GPU results with the float64 reference (fuzz, chunking, backward, faults,
// reliability). The tolerance model (constants and per-element bounds, with their reasoning) is
// src/reference/tolerances.ts, shared with the benchmark and the demo; this file applies it through vitest.
import { expect } from 'vitest';
import type { BatchNormBackwardResult } from '../../src/index.js';
import type { ReferenceBackwardResult, ReferenceForwardResult } from '../../src/reference.js';
import { backwardTolerances, meanTolerance, relativeTolerance, runningMeanTolerance, withHalfRounding, yTolerance } from '../../src/reference/tolerances.js';
import { compareElements, type Comparison } from './compare.js';

export { DX_RTOL, STAT_RTOL, SUM_RTOL, Y_ATOL, Y_RTOL } from '../../src/reference/tolerances.js';

type Values = ArrayLike<number>;

/** Compares a forward's y with the reference under the Y_RTOL/Y_ATOL bound. */
export function compareY(
  what: string,
  y: Values,
  x: Values,
  shape: readonly number[],
  ref: ReferenceForwardResult,
  weight: Values | null,
  bias: Values | null,
  axis = 1,
  dtype: 'f32' | 'f16' = 'f32',
  residual: Values | null = null,
): Comparison {
  const tolerance = yTolerance(x, shape, ref, weight, bias, axis, residual);
  return compareElements(what, y, ref.y, dtype === 'f16' ? withHalfRounding(tolerance, ref.y) : tolerance);
}

/** What a training forward produced besides y, read back; the running statistics when it had them. */
export interface TrainingStatistics {
  saveMean: Values;
  saveInvstd: Values;
  runningMean?: Values;
  runningVar?: Values;
}

/** The reference's statistics; the running ones when the forward updated them. */
export type ReferenceStatistics = Pick<ReferenceForwardResult, 'saveMean' | 'saveInvstd'> &
  Partial<Pick<ReferenceForwardResult, 'runningMean' | 'runningVar'>>;

/** Compares a training forward's saved (and updated running) statistics under STAT_RTOL; returns the worst ratio. */
export function compareTrainingStatistics(what: string, actual: TrainingStatistics, ref: ReferenceStatistics): number {
  const ratios = [
    compareElements(`${what} saveMean`, actual.saveMean, ref.saveMean, meanTolerance(ref.saveMean, ref.saveInvstd)),
    compareElements(`${what} saveInvstd`, actual.saveInvstd, ref.saveInvstd, relativeTolerance(ref.saveInvstd)),
  ].map((r) => r.worstRatio);
  const { runningMean, runningVar } = ref;
  if (actual.runningMean && runningMean) {
    ratios.push(compareElements(`${what} runningMean`, actual.runningMean, runningMean, runningMeanTolerance(runningMean, ref.saveMean, ref.saveInvstd)).worstRatio);
  }
  if (actual.runningVar && runningVar) {
    ratios.push(compareElements(`${what} runningVar`, actual.runningVar, runningVar, relativeTolerance(runningVar)).worstRatio);
  }
  return Math.max(...ratios);
}

export interface BackwardInputs {
  dy: Values;
  x: Values;
  shape: readonly number[];
  weight: Values | null;
  training: boolean;
  axis?: number;
  /** With a fused ReLU: the forward's output (its sign masks dy). */
  reluOutput?: Values | null;
  /** A masked forward's mask (its positions alone made the statistics). */
  mask?: Values | null;
  /** dx's dtype: with 'f16' its tolerance adds one rounding to half precision. */
  dtype?: 'f32' | 'f16';
}

export interface BackwardRatios {
  dx: number;
  dweight: number;
  dbias: number;
}

/**
 * Reads the GPU's gradients and compares them with the reference's under DX_RTOL and SUM_RTOL; returns the
 * worst ratios. `ref` must have been fed the statistics the GPU backward read (see src/reference/tolerances.ts).
 */
export async function compareBackward(
  what: string,
  out: BatchNormBackwardResult,
  ref: ReferenceBackwardResult,
  inputs: BackwardInputs,
): Promise<BackwardRatios> {
  const tolerance = backwardTolerances(inputs, ref);
  const dxTolerance = inputs.dtype === 'f16' ? withHalfRounding(tolerance.dx, ref.dx) : tolerance.dx;
  const dx = compareElements(`${what} dx`, await out.dx.toArray(), ref.dx, dxTolerance);
  if (!inputs.weight) {
    expect(out.dweight).toBeNull();
    expect(out.dbias).toBeNull();
    return { dx: dx.worstRatio, dweight: 0, dbias: 0 };
  }
  const dw = compareElements(`${what} dweight`, await out.dweight!.toArray(), ref.dweight!, tolerance.dweight);
  const db = compareElements(`${what} dbias`, await out.dbias!.toArray(), ref.dbias!, tolerance.dbias);
  return { dx: dx.worstRatio, dweight: dw.worstRatio, dbias: db.worstRatio };
}
