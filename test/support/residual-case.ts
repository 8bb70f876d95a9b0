// One residual case, forward and backward, against the float64 references: y = act(bn(x) + z) with the
// residual z read in the pass that writes y, and the backward with `residual: true` (dz, and dx from it;
// with a ReLU the mask is the stored y's sign). Shared by the browser tests (f32 and packed f16 on
// SwiftShader: test/gpu/residual.test.ts) and the Dawn tests (native f16 on lavapipe: test/dawn/residual.test.ts).
import { expect } from 'vitest';
import { batchNorm, batchNormBackward, Tensor, type DType, type Gpu } from '../../src/index.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { channelLayout, numElements } from '../../src/runtime/shape.js';
import { channelParameters } from './channel-parameters.js';
import { gaussian, seededRandom } from './random.js';
import { compareBackward, compareTrainingStatistics, compareY } from './tolerances.js';

export interface ResidualCase {
  readonly what: string;
  readonly shape: readonly number[];
  readonly axis: number;
  /** Whether the training forward and the backward run in one dispatch on a GPU's plans (checked by the tests). */
  readonly singlePass: boolean;
  /** A small binding size: x, z, y, dy, dx and dz all in windows. */
  readonly maxBindingBytes?: number;
}

/** Every layout and plan: NCHW (scalar and vec4 elements), channels-last (rows kernels), one dispatch or three, windows (of whole samples, and cutting samples). */
export const RESIDUAL_CASES: readonly ResidualCase[] = [
  { what: 'NCHW, one dispatch', shape: [4, 6, 5, 5], axis: 1, singlePass: true },
  { what: 'NCHW vec4, one dispatch', shape: [2, 4, 8, 8], axis: 1, singlePass: true },
  { what: 'NCHW, three passes', shape: [16, 3, 25, 25], axis: 1, singlePass: false },
  { what: 'NCHW vec4, three passes', shape: [16, 2, 32, 32], axis: 1, singlePass: false },
  { what: 'NHWC rows, one dispatch', shape: [3, 4, 4, 6], axis: -1, singlePass: true },
  { what: 'NHWC rows, three passes', shape: [8, 4, 4, 6], axis: -1, singlePass: false },
  { what: 'NCHW in windows', shape: [24, 2, 3, 5], axis: 1, singlePass: false, maxBindingBytes: 512 },
  { what: 'NHWC in windows', shape: [16, 3, 3, 4], axis: -1, singlePass: false, maxBindingBytes: 512 },
  // One sample larger than a binding: windows start and end inside samples.
  { what: 'NCHW vec4, samples cut', shape: [1, 2, 32, 32], axis: 1, singlePass: false, maxBindingBytes: 1024 },
  { what: 'NHWC, samples cut', shape: [2, 2, 300], axis: -1, singlePass: false, maxBindingBytes: 512 },
];

export interface ResidualRun {
  readonly dtype: DType;
  readonly training: boolean;
  readonly relu: boolean;
  readonly seed: number;
  /** Record the forward and the backward into one encoder of the test's, submitted once. */
  readonly encoder?: boolean;
}

/** The worst error / tolerance of y, dx, dweight and dbias (dz must be exact). */
export interface ResidualRatios {
  readonly y: number;
  readonly dx: number;
  readonly dweight: number;
  readonly dbias: number;
}

/** Runs a forward with a residual and its backward on `gpu` and checks every output; returns the worst ratios. */
export async function checkResidualCase(gpu: Gpu, c: ResidualCase, run: ResidualRun): Promise<ResidualRatios> {
  const { shape, axis } = c;
  const { dtype, training, relu } = run;
  const { channels } = channelLayout(shape, axis);
  const rnd = seededRandom(run.seed);
  const size = numElements(shape);
  // f16 tensors hold halves: the references get the same values.
  const values = (data: Float32Array) => (dtype === 'f16' ? roundToHalf(data) : data);
  const x = values(gaussian(rnd, size, 1.5, 2));
  const z = values(gaussian(rnd, size, -0.5, 1.5));
  const dy = values(gaussian(rnd, size));
  const { host, weight, bias, runningMean, runningVar } = channelParameters(gpu, rnd, channels);
  const [xT, zT, dyT] = [x, z, dy].map((data) => Tensor.fromArray(gpu, data, shape, { dtype }));
  const activation = relu ? 'relu' : null;
  const what = `${c.what} [${shape}] ${dtype} ${training ? 'training' : 'inference'}${relu ? ' relu' : ''}${run.encoder ? ', one encoder' : ''}`;

  const encoder = run.encoder ? gpu.device.createCommandEncoder({ label: 'residual test' }) : undefined;
  const recording = encoder ? { encoder } : {};
  const fwd = batchNorm(gpu, xT!, { training, axis, activation, weight, bias, runningMean, runningVar, residual: zT!, ...recording });
  const statistics = training
    ? { training: true as const, saveMean: fwd.saveMean!, saveInvstd: fwd.saveInvstd! }
    : { training: false as const, runningMean, runningVar };
  const grads = batchNormBackward(gpu, dyT!, xT!, { ...statistics, axis, activation, weight, residual: true, ...(relu ? { y: fwd.y } : {}), ...recording });
  if (encoder) gpu.device.queue.submit([encoder.finish()]);

  const ref = batchNormReference(x, shape, { training, axis, activation, ...host, residual: z });
  const y = await fwd.y.toArray();
  const yRatio = compareY(`${what} y`, y, x, shape, ref, host.weight, host.bias, axis, dtype, z).worstRatio;
  if (relu) expect(y.some((v) => v === 0) && y.some((v) => v > 0), `${what}: the ReLU clips some values and passes others`).toBe(true);

  // The backward's reference is fed the statistics the GPU backward read (src/reference/tolerances.ts).
  const reluOutput = relu ? y : null;
  let gradRef;
  if (training) {
    const saved = { saveMean: await fwd.saveMean!.toArray(), saveInvstd: await fwd.saveInvstd!.toArray() };
    compareTrainingStatistics(what, { ...saved, runningMean: await runningMean.toArray(), runningVar: await runningVar.toArray() }, ref);
    gradRef = batchNormBackwardReference(dy, x, shape, { training, axis, activation, weight: host.weight, residual: true, reluOutput, ...saved });
  } else {
    gradRef = batchNormBackwardReference(dy, x, shape, {
      training, axis, activation, weight: host.weight, residual: true, reluOutput, runningMean: host.runningMean, runningVar: host.runningVar,
    });
  }
  const ratios = await compareBackward(what, grads, gradRef, { dy, x, shape, weight: host.weight, training, axis, reluOutput, dtype });
  // dz is dy masked by the stored y: exactly the reference's (without a ReLU, dy itself, not a copy).
  if (relu) {
    expect(grads.dz).not.toBe(dyT);
    expect(grads.dz.dtype).toBe(dtype);
    expect(Array.from(await grads.dz.toArray()), `${what} dz`).toEqual(Array.from(gradRef.dz!));
    expect(gradRef.dz!.some((v, i) => v === 0 && dy[i] !== 0), `${what}: the mask clears some of dy`).toBe(true);
  } else {
    expect(grads.dz).toBe(dyT);
  }
  for (const t of [xT, zT, dyT, weight, bias, runningMean, runningVar, fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias, grads.dz]) t?.destroy();
  return { y: yRatio, ...ratios };
}
