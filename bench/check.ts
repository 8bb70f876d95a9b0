// One forward and backward on the GPU checked against the float64 reference, as the demo's interactive
// run does it: the GPU part (runForwardBackward) and the check under the tests' tolerance model
// (checkForwardBackward, src/reference/tolerances.ts), apart so a GPU test can run the demo's exact case. The same
// pair checks every kernel path of a device (kernel-paths.ts), in f32 and f16, any channel axis.
import { roundToHalf } from '../src/runtime/half.js';
import { batchNorm, batchNormBackward, Tensor, type DType, type Gpu } from '../src/index.js';
import { batchNormBackwardReference, batchNormReference, type ReferenceForwardResult } from '../src/reference.js';
import { channelLayout } from '../src/runtime/shape.js';
import { backwardTolerances, meanTolerance, relativeTolerance, runningMeanTolerance, withHalfRounding, yTolerance } from '../src/reference/tolerances.js';
import { elementAccuracy, type Accuracy } from './accuracy.js';
import { inErrorScopes } from './error-scopes.js';

export interface CaseInputs {
  readonly x: Float32Array;
  readonly shape: readonly number[];
  readonly training: boolean;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** The running statistics before the forward (updated by a training forward, read by inference). */
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
  /** The upstream gradient of the backward. */
  readonly dy: Float32Array;
  /** Passed to the GPU and to the reference alike (the demo passes DEFAULT_EPS and DEFAULT_MOMENTUM). */
  readonly eps: number;
  readonly momentum: number;
  /** The channel axis (default 1: (N, C, *)). */
  readonly axis?: number;
  /** The dtype of x, y, dy and dx (default 'f32'); statistics and parameters are always f32. */
  readonly dtype?: DType;
}

/** What the GPU produced, read back. */
export interface CaseOutputs {
  readonly y: Float32Array;
  /** Training only: the saved statistics and the updated running ones. */
  readonly saveMean: Float32Array | null;
  readonly saveInvstd: Float32Array | null;
  readonly runningMean: Float32Array | null;
  readonly runningVar: Float32Array | null;
  readonly dx: Float32Array;
  readonly dweight: Float32Array;
  readonly dbias: Float32Array;
  /** Forward, backward and readback, wall time. */
  readonly gpuMs: number;
}

/**
 * Runs the forward and then the backward of the same mode (training: with the forward's saveMean and
 * saveInvstd; inference: with the running statistics), all in GPU error scopes; throws on a GPU error.
 */
export function runForwardBackward(gpu: Gpu, inputs: CaseInputs): Promise<CaseOutputs> {
  const { x, shape, training, eps, momentum, axis = 1, dtype = 'f32' } = inputs;
  const { channels } = channelLayout(shape, axis);
  const tensors: Tensor[] = [];
  const keep = <T extends Tensor | null>(tensor: T): T => {
    if (tensor) tensors.push(tensor);
    return tensor;
  };
  const upload = (data: Float32Array, dims: readonly number[], activationDtype?: DType) =>
    keep(Tensor.fromArray(gpu, data, dims, activationDtype ? { dtype: activationDtype } : {}));
  return inErrorScopes(gpu, async () => {
    try {
      const xTensor = upload(x, shape, dtype);
      const weight = upload(inputs.weight, [channels]);
      const runningMean = upload(inputs.runningMean, [channels]);
      const runningVar = upload(inputs.runningVar, [channels]);
      const start = performance.now();
      const forward = batchNorm(gpu, xTensor, { training, axis, weight, bias: upload(inputs.bias, [channels]), runningMean, runningVar, eps, momentum });
      keep(forward.y);
      const saveMean = keep(forward.saveMean);
      const saveInvstd = keep(forward.saveInvstd);
      const dy = upload(inputs.dy, shape, dtype);
      const gradients =
        saveMean && saveInvstd
          ? batchNormBackward(gpu, dy, xTensor, { training: true, axis, weight, saveMean, saveInvstd })
          : batchNormBackward(gpu, dy, xTensor, { training: false, axis, weight, runningMean, runningVar, eps });
      keep(gradients.dx);
      const read = (tensor: Tensor | null) => (tensor ? tensor.toArray() : Promise.resolve(null));
      const [y, dx, dweight, dbias, mean, invstd, newRunningMean, newRunningVar] = await Promise.all([
        forward.y.toArray(),
        gradients.dx.toArray(),
        keep(gradients.dweight)!.toArray(),
        keep(gradients.dbias)!.toArray(),
        read(saveMean),
        read(saveInvstd),
        read(training ? runningMean : null),
        read(training ? runningVar : null),
      ]);
      const gpuMs = performance.now() - start;
      return { y, saveMean: mean, saveInvstd: invstd, runningMean: newRunningMean, runningVar: newRunningVar, dx, dweight, dbias, gpuMs };
    } finally {
      for (const tensor of tensors) tensor.destroy();
    }
  });
}

export interface CaseCheck {
  readonly passed: boolean;
  /** Each output against the reference: y, the training statistics, dx, dweight, dbias. */
  readonly checks: readonly { readonly what: string; readonly accuracy: Accuracy }[];
  readonly reference: ReferenceForwardResult;
}

/**
 * The tests' model (src/reference/tolerances.ts): the forward's outputs against the float64 forward, the gradients
 * against a float64 backward fed the statistics the GPU backward read (in training, the GPU's saveMean and
 * saveInvstd, which are themselves checked against the float64 ones).
 */
export function checkForwardBackward(inputs: CaseInputs, actual: CaseOutputs): CaseCheck {
  const { shape, training, weight, bias, eps, momentum, axis = 1 } = inputs;
  const half = inputs.dtype === 'f16';
  // f16: the reference reads the rounded values the GPU held; y and dx get one more rounding (to f16).
  const [x, dy] = half ? [roundToHalf(inputs.x), roundToHalf(inputs.dy)] : [inputs.x, inputs.dy];
  const stored = (tolerance: (i: number) => number, expected: ArrayLike<number>) => (half ? withHalfRounding(tolerance, expected) : tolerance);
  const reference = batchNormReference(x, shape, { training, axis, weight, bias, runningMean: inputs.runningMean, runningVar: inputs.runningVar, eps, momentum });
  const checks: { what: string; accuracy: Accuracy }[] = [
    { what: 'y', accuracy: elementAccuracy(actual.y, reference.y, stored(yTolerance(x, shape, reference, weight, bias, axis), reference.y)) },
  ];
  let backwardReference;
  if (training) {
    const { saveMean, saveInvstd, runningMean, runningVar } = actual;
    if (!saveMean || !saveInvstd) throw new Error('a training run needs the saved statistics read back');
    checks.push(
      { what: 'saveMean', accuracy: elementAccuracy(saveMean, reference.saveMean, meanTolerance(reference.saveMean, reference.saveInvstd)) },
      { what: 'saveInvstd', accuracy: elementAccuracy(saveInvstd, reference.saveInvstd, relativeTolerance(reference.saveInvstd)) },
    );
    if (runningMean && reference.runningMean) {
      checks.push({ what: 'runningMean', accuracy: elementAccuracy(runningMean, reference.runningMean, runningMeanTolerance(reference.runningMean, reference.saveMean, reference.saveInvstd)) });
    }
    if (runningVar && reference.runningVar) {
      checks.push({ what: 'runningVar', accuracy: elementAccuracy(runningVar, reference.runningVar, relativeTolerance(reference.runningVar)) });
    }
    backwardReference = batchNormBackwardReference(dy, x, shape, { training: true, axis, weight, saveMean, saveInvstd });
  } else {
    backwardReference = batchNormBackwardReference(dy, x, shape, {
      training: false,
      axis,
      weight,
      runningMean: inputs.runningMean,
      runningVar: inputs.runningVar,
      eps,
    });
  }
  const tolerance = backwardTolerances({ dy, x, shape, weight, training, axis }, backwardReference);
  checks.push(
    { what: 'dx', accuracy: elementAccuracy(actual.dx, backwardReference.dx, stored(tolerance.dx, backwardReference.dx)) },
    { what: 'dweight', accuracy: elementAccuracy(actual.dweight, backwardReference.dweight!, tolerance.dweight) },
    { what: 'dbias', accuracy: elementAccuracy(actual.dbias, backwardReference.dbias!, tolerance.dbias) },
  );
  return { passed: checks.every((c) => c.accuracy.passed), checks, reference };
}
