// Tolerances of GPU results against the float64 reference, stated once for the tests that share them
// (fuzz, chunking, backward, faults, reliability). Each is relative to the size of the float32 terms the
// result is made of, so one bound holds from 1e-3 to 1e4 scales.
import { expect } from 'vitest';
import type { BatchNormBackwardResult, ReferenceBackwardResult, ReferenceForwardResult } from '../../src/index.js';
import { compareElements, type Comparison } from './compare.js';

// y = x*scale + shift in float32: |error| <= Y_RTOL * (|x*scale| + |shift|) + Y_ATOL.
export const Y_RTOL = 4e-6;
export const Y_ATOL = 1e-6;
// Saved and running statistics: relative to the channel's spread (means) or to the value (variances).
export const STAT_RTOL = 1e-6;
// dx = w*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)): its error scales with
//   w*invstd*(|dy| + mean|dy| + |xhat|*mean|dy*xhat|)   (training; inference has the |dy| term only).
export const DX_RTOL = 2e-6;
// dbias = sum(dy) and dweight = sum(dy*xhat) are float32 sums: their error scales with sum|term|.
export const SUM_RTOL = 2e-6;

type Values = ArrayLike<number>;

function channelIndex(shape: readonly number[]): (i: number) => number {
  const channels = shape[1]!;
  const spatial = shape.slice(2).reduce((a, b) => a * b, 1);
  return (i) => Math.floor(i / spatial) % channels;
}

/** Compares a forward's y with the reference under the Y_RTOL/Y_ATOL bound. */
export function compareY(
  what: string,
  y: Values,
  x: Values,
  shape: readonly number[],
  ref: ReferenceForwardResult,
  weight: Values | null,
  bias: Values | null,
): Comparison {
  const channelOf = channelIndex(shape);
  return compareElements(what, y, ref.y, (i) => {
    const c = channelOf(i);
    const scale = (weight ? weight[c]! : 1) * ref.invstd[c]!;
    const shift = (bias ? bias[c]! : 0) - ref.mean[c]! * scale;
    return Y_RTOL * (Math.abs(x[i]! * scale) + Math.abs(shift)) + Y_ATOL;
  });
}

/** What a training forward produced besides y, read back; the running statistics when it had them. */
export interface TrainingStatistics {
  saveMean: Values;
  saveInvstd: Values;
  runningMean?: Values;
  runningVar?: Values;
}

/** The reference's statistics; the running ones when the forward updated them. */
export type ReferenceStatistics = Pick<ReferenceForwardResult, 'mean' | 'invstd'> &
  Partial<Pick<ReferenceForwardResult, 'runningMean' | 'runningVar'>>;

/** Compares a training forward's saved (and updated running) statistics; returns the worst ratio. */
export function compareTrainingStatistics(what: string, actual: TrainingStatistics, ref: ReferenceStatistics): number {
  const spread = (c: number) => 1 / ref.invstd[c]!;
  const ratios = [
    compareElements(`${what} saveMean`, actual.saveMean, ref.mean, (c) => STAT_RTOL * (Math.abs(ref.mean[c]!) + spread(c))),
    compareElements(`${what} saveInvstd`, actual.saveInvstd, ref.invstd, (c) => STAT_RTOL * ref.invstd[c]!),
  ].map((r) => r.worstRatio);
  const { runningMean, runningVar } = ref;
  if (actual.runningMean && runningMean) {
    const cmp = compareElements(`${what} runningMean`, actual.runningMean, runningMean, (c) => STAT_RTOL * (Math.abs(runningMean[c]!) + spread(c)));
    ratios.push(cmp.worstRatio);
  }
  if (actual.runningVar && runningVar) {
    ratios.push(compareElements(`${what} runningVar`, actual.runningVar, runningVar, (c) => STAT_RTOL * runningVar[c]!).worstRatio);
  }
  return Math.max(...ratios);
}

/** Per channel: mean|dy|, mean|dy*xhat|, sum|dy| and sum|dy*xhat|, the scales of the backward tolerances. */
function magnitudes(dy: Values, x: Values, shape: readonly number[], mean: Float64Array, invstd: Float64Array) {
  const [batch, channels] = shape as [number, number];
  const spatial = dy.length / (batch * channels);
  const sumAbsDy = new Float64Array(channels);
  const sumAbsDyXhat = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let absDy = 0;
    let absDyXhat = 0;
    for (let n = 0; n < batch; n++) {
      const base = (n * channels + c) * spatial;
      for (let i = base; i < base + spatial; i++) {
        absDy += Math.abs(dy[i]!);
        absDyXhat += Math.abs(dy[i]! * (x[i]! - mean[c]!) * invstd[c]!);
      }
    }
    sumAbsDy[c] = absDy;
    sumAbsDyXhat[c] = absDyXhat;
  }
  const count = batch * spatial;
  return { sumAbsDy, sumAbsDyXhat, meanAbsDy: sumAbsDy.map((v) => v / count), meanAbsDyXhat: sumAbsDyXhat.map((v) => v / count) };
}

export interface BackwardInputs {
  dy: Values;
  x: Values;
  shape: readonly number[];
  weight: Values | null;
  training: boolean;
}

export interface BackwardRatios {
  dx: number;
  dweight: number;
  dbias: number;
}

/** Reads the GPU's gradients and compares them with the reference's under DX_RTOL and SUM_RTOL; returns the worst ratios. */
export async function compareBackward(
  what: string,
  out: BatchNormBackwardResult,
  ref: ReferenceBackwardResult,
  { dy, x, shape, weight, training }: BackwardInputs,
): Promise<BackwardRatios> {
  const m = magnitudes(dy, x, shape, ref.mean, ref.invstd);
  const channelOf = channelIndex(shape);
  const dx = compareElements(`${what} dx`, await out.dx.toArray(), ref.dx, (i) => {
    const ch = channelOf(i);
    const scale = Math.abs(weight ? weight[ch]! : 1) * ref.invstd[ch]!;
    const xhat = Math.abs((x[i]! - ref.mean[ch]!) * ref.invstd[ch]!);
    const terms = training ? Math.abs(dy[i]!) + m.meanAbsDy[ch]! + xhat * m.meanAbsDyXhat[ch]! : Math.abs(dy[i]!);
    return DX_RTOL * scale * terms;
  });
  if (!weight) {
    expect(out.dweight).toBeNull();
    expect(out.dbias).toBeNull();
    return { dx: dx.worstRatio, dweight: 0, dbias: 0 };
  }
  const dw = compareElements(`${what} dweight`, await out.dweight!.toArray(), ref.dweight!, (ch) => SUM_RTOL * m.sumAbsDyXhat[ch]!);
  const db = compareElements(`${what} dbias`, await out.dbias!.toArray(), ref.dbias!, (ch) => SUM_RTOL * m.sumAbsDy[ch]!);
  return { dx: dx.worstRatio, dweight: dw.worstRatio, dbias: db.worstRatio };
}
