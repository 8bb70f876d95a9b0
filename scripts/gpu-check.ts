// `npm run check:node`: correctness of every kernel path on the adapter at hand, for GPU machines with
// no browser (the test suite runs in Chromium, whose adapter here is SwiftShader). Each case runs a
// forward and its backward through src/bench/check.ts, the demo's check, against the float64 reference
// under the tests' tolerances (src/tolerances.ts), in f32, in native f16 (where the adapter has
// 'shader-f16') and in packed f16 (the same device with 'shader-f16' left off), training and inference.
// Bundled with the Node benchmark (vite.bench-node.config.ts); exits 1 if any case fails.
import { parseArgs } from 'node:util';
import { checkForwardBackward, runForwardBackward, seededUniform, unitNoise, type CaseInputs } from '../src/bench/index.js';
import { describeAdapter } from '../src/bench/environment.js';
import { DEFAULT_EPS, DEFAULT_MOMENTUM, type DType, type Gpu } from '../src/index.js';
import { channelLayout, numElements } from '../src/shape.js';
import { channelOfIndex } from '../src/tolerances.js';
import { reexecOnSwiftShaderWithoutGpu, requestDawnGpu } from './dawn.js';

interface CheckShape {
  readonly what: string;
  readonly shape: readonly number[];
  readonly axis: number;
}

// One shape per kernel family: slices (odd and vec4 inner), rows (BatchNorm1d, channels-last), a
// per-invocation finalize (many channels, few values), and ResNet-sized tensors of both layouts.
const SHAPES: readonly CheckShape[] = [
  { what: 'slices, odd inner', shape: [3, 5, 7], axis: 1 },
  { what: 'slices, vec4 inner', shape: [4, 3, 12], axis: 1 },
  { what: 'rows, odd count', shape: [5, 7], axis: 1 },
  { what: 'channels-last, odd C', shape: [3, 4, 5, 3], axis: -1 },
  { what: 'BatchNorm1d, many channels', shape: [2, 16384], axis: 1 },
  { what: 'BatchNorm1d', shape: [4096, 512], axis: 1 },
  { what: 'NCHW', shape: [8, 64, 28, 28], axis: 1 },
  { what: 'NHWC', shape: [8, 28, 28, 64], axis: -1 },
  { what: 'NCHW, small spatial', shape: [32, 2048, 7, 7], axis: 1 },
];

const { values } = parseArgs({ options: { 'max-elements': { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('usage: node build-node/gpu-check.js [--max-elements N]  (default: all shapes, up to 3.2M elements)');
  process.exit(0);
}
const maxElements = values['max-elements'] === undefined ? Infinity : Number(values['max-elements']);

function caseInputs({ shape, axis }: CheckShape, training: boolean, seed: number): CaseInputs {
  const { channels } = channelLayout(shape, axis);
  const random = seededUniform(seed);
  const perChannel = (low: number, high: number) => Float32Array.from({ length: channels }, () => low + (high - low) * random());
  const channelMean = perChannel(-3, 3);
  const channelScale = perChannel(0.5, 3);
  const channelOf = channelOfIndex(shape, axis);
  const noise = unitNoise(numElements(shape), seed + 1);
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
  };
}

reexecOnSwiftShaderWithoutGpu('check:node');
const gpu = await requestDawnGpu();
const packed = await requestDawnGpu({ disableFeatures: ['shader-f16'] });
console.log(`adapter: ${describeAdapter(gpu.device.adapterInfo).label}; shader-f16: ${gpu.features.shaderF16 ? 'yes (native f16 checked)' : 'no'}`);
const paths: readonly { readonly name: string; readonly gpu: Gpu; readonly dtype: DType }[] = [
  { name: 'f32', gpu, dtype: 'f32' },
  ...(gpu.features.shaderF16 ? [{ name: 'f16 native', gpu, dtype: 'f16' as const }] : []),
  { name: 'f16 packed', gpu: packed, dtype: 'f16' },
];

let failures = 0;
let seed = 1;
for (const checkShape of SHAPES.filter((s) => numElements(s.shape) <= maxElements)) {
  for (const path of paths) {
    for (const training of [true, false]) {
      const inputs = { ...caseInputs(checkShape, training, seed++), dtype: path.dtype };
      const { passed, checks } = checkForwardBackward(inputs, await runForwardBackward(path.gpu, inputs));
      if (!passed) failures++;
      const worst = checks.map(({ what, accuracy }) => `${what} ${accuracy.worstRatio.toFixed(2)}`).join(' ');
      const mode = training ? 'training' : 'inference';
      console.log(`${passed ? 'pass' : 'FAIL'} ${path.name.padEnd(10)} ${mode.padEnd(9)} [${checkShape.shape}] axis ${checkShape.axis} (${checkShape.what}): error/tolerance ${worst}`);
    }
  }
}
console.log(failures === 0 ? 'all cases passed' : `${failures} case(s) FAILED`);
gpu.destroy();
packed.destroy();
// Dawn's event loop integration can keep Node alive after the last device is destroyed.
process.exit(failures === 0 ? 0 : 1);
