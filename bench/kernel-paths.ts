// The kernel-path check, one case list for every adapter: `npm run check:node` (scripts/gpu-check.ts) on
// whatever Dawn finds, and the test suite's native f16 run on lavapipe (test/dawn/). Each case is one shape
// per kernel family, on one storage path (f32, native f16 where the device has 'shader-f16', packed f16
// where it is left off), in training or inference: a forward and its backward through the demo's check
// (check.ts), against the float64 reference under the tests' tolerances (src/reference/tolerances.ts).
import { DEFAULT_EPS, DEFAULT_MOMENTUM, type DType, type Gpu } from '../src/index.js';
import { channelLayout, numElements } from '../src/runtime/shape.js';
import { channelOfIndex } from '../src/reference/tolerances.js';
import { checkForwardBackward, runForwardBackward, type CaseCheck, type CaseInputs } from './check.js';
import { seededUniform, unitNoise } from './synthetic.js';

export interface KernelPathShape {
  readonly what: string;
  readonly shape: readonly number[];
  readonly axis: number;
}

// One shape per kernel family: slices (odd and vec4 inner; channels long enough for several slices
// each, so the statistics, finalize and apply run as separate passes: per invocation and, on a GPU's
// plans, per workgroup), rows (BatchNorm1d, channels-last), a per-invocation finalize (many channels,
// few values), and ResNet-sized tensors of both layouts.
const KERNEL_PATH_SHAPES: readonly KernelPathShape[] = [
  { what: 'slices, odd inner', shape: [3, 5, 9], axis: 1 },
  { what: 'slices, vec4 inner', shape: [4, 3, 12], axis: 1 },
  { what: 'slices, long odd channels', shape: [8, 4, 45, 45], axis: 1 },
  { what: 'slices, long vec4 channels', shape: [24, 4, 64, 96], axis: 1 },
  { what: 'rows, odd count', shape: [5, 7], axis: 1 },
  { what: 'channels-last, odd C', shape: [3, 4, 5, 3], axis: -1 },
  { what: 'BatchNorm1d, many channels', shape: [2, 16384], axis: 1 },
  { what: 'BatchNorm1d', shape: [4096, 512], axis: 1 },
  { what: 'NCHW', shape: [8, 64, 28, 28], axis: 1 },
  { what: 'NHWC', shape: [8, 28, 28, 64], axis: -1 },
  { what: 'NCHW, small spatial', shape: [32, 2048, 7, 7], axis: 1 },
];

/** How the activations are stored: f32, f16 as WGSL's f16 ('shader-f16'), or f16 as halves packed in u32 words. */
export type KernelPath = 'f32' | 'f16 native' | 'f16 packed';

export const KERNEL_PATHS: readonly KernelPath[] = ['f32', 'f16 native', 'f16 packed'];

/** The devices a check runs on: one with every feature the adapter offers, one with 'shader-f16' left off. */
export interface KernelPathDevices {
  readonly gpu: Gpu;
  readonly packed: Gpu;
}

export interface KernelPathCase {
  readonly shape: KernelPathShape;
  readonly path: KernelPath;
  readonly training: boolean;
  /** The inputs' seed: the same shape and mode get the same data on every path. */
  readonly seed: number;
}

/** Every case of `paths`, shape by shape, up to `maxElements` elements. */
export function kernelPathCases(paths: readonly KernelPath[], maxElements = Infinity): KernelPathCase[] {
  return KERNEL_PATH_SHAPES.flatMap((shape, index) =>
    numElements(shape.shape) > maxElements
      ? []
      : paths.flatMap((path) =>
          [true, false].map((training) => ({ shape, path, training, seed: 1 + 3 * (2 * index + (training ? 0 : 1)) })),
        ),
  );
}

/** "f16 native training  [8,64,28,28] axis 1 (NCHW)", padded so that a list of them lines up. */
export function kernelPathCaseName({ shape, path, training }: KernelPathCase): string {
  return `${path.padEnd(10)} ${(training ? 'training' : 'inference').padEnd(9)} [${shape.shape}] axis ${shape.axis} (${shape.what})`;
}

/** Runs one case on the device its path needs and checks it against the float64 reference. */
export async function runKernelPathCase(devices: KernelPathDevices, kernelCase: KernelPathCase): Promise<CaseCheck> {
  if (kernelCase.path === 'f16 native' && !devices.gpu.features.shaderF16) {
    throw new Error(`the native f16 path needs a device with 'shader-f16'; this adapter does not offer it`);
  }
  const inputs = caseInputs(kernelCase);
  return checkForwardBackward(inputs, await runForwardBackward(kernelCase.path === 'f16 packed' ? devices.packed : devices.gpu, inputs));
}

/** "pass f32        training  [3,5,9] axis 1 (slices, odd inner): error/tolerance y 0.01 ..." */
export function formatKernelPathCheck(kernelCase: KernelPathCase, { passed, checks }: CaseCheck): string {
  const worst = checks.map(({ what, accuracy }) => `${what} ${accuracy.worstRatio.toFixed(2)}`).join(' ');
  return `${passed ? 'pass' : 'FAIL'} ${kernelPathCaseName(kernelCase)}: error/tolerance ${worst}`;
}

// Per channel a mean in [-3, 3] and a spread in [0.5, 3] around unit noise; parameters and running
// statistics of ordinary size.
function caseInputs({ shape: { shape, axis }, path, training, seed }: KernelPathCase): CaseInputs {
  const { channels } = channelLayout(shape, axis);
  const random = seededUniform(seed);
  const perChannel = (low: number, high: number) => Float32Array.from({ length: channels }, () => low + (high - low) * random());
  const channelMean = perChannel(-3, 3);
  const channelScale = perChannel(0.5, 3);
  const channelOf = channelOfIndex(shape, axis);
  const noise = unitNoise(numElements(shape), seed + 1);
  const dtype: DType = path === 'f32' ? 'f32' : 'f16';
  return {
    x: noise.map((v, i) => {
      const c = channelOf(i);
      return channelMean[c]! + channelScale[c]! * v;
    }),
    shape,
    axis,
    training,
    weight: perChannel(0.5, 2),
    bias: perChannel(-1, 1),
    runningMean: perChannel(-1, 1),
    runningVar: perChannel(0.5, 4),
    dy: unitNoise(numElements(shape), seed + 2),
    eps: DEFAULT_EPS,
    momentum: DEFAULT_MOMENTUM,
    dtype,
  };
}
