// Every kernel path on Dawn (the `webgpu` package) over lavapipe, Mesa 25's CPU Vulkan driver
// (scripts/lavapipe.mjs, installed by scripts/setup.mjs; vitest.config.ts points VK_ICD_FILENAMES at it):
// the one adapter here with 'shader-f16', so the only place the `enable f16;` kernels run. The cases are
// `npm run check:node`'s (bench/kernel-paths.ts). The browser tests cover f32 and packed f16 on
// SwiftShader more widely. No 'shader-f16' fails the file: nothing is skipped.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAVAPIPE_ICD, LAVAPIPE_MISSING } from '../../scripts/lavapipe.mjs';
import { requestDawnGpu } from '../../scripts/dawn.js';
import { GPU_PLANS } from '../support/gpu-plans.js';
import { formatKernelPathCheck, KERNEL_PATHS, kernelPathCaseName, kernelPathCases, runKernelPathCase, type KernelPath, type KernelPathDevices } from '../../bench/index.js';
import { batchNorm, batchNormBackward, Gpu, Tensor, type GpuOptions } from '../../src/index.js';
import { batchNormBackwardReference, batchNormReference } from '../../src/reference.js';
import { roundToHalf } from '../../src/runtime/half.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { compareBackward, compareTrainingStatistics, compareY } from '../support/tolerances.js';

interface Run {
  readonly name: string;
  readonly paths: readonly KernelPath[];
  readonly options: GpuOptions;
}

// lavapipe's own plans (a software adapter's few workgroups) on every path, as check:node runs them.
// Then the native f16 path again as a GPU plans it (more slices: the multi-pass slice kernels), with the
// workgroup-memory sums instead of subgroups, and in windows of 128 KiB (bindings at offsets into x).
const RUNS: readonly Run[] = [
  { name: "lavapipe's plans", paths: KERNEL_PATHS, options: {} },
  { name: 'GPU plans', paths: ['f16 native'], options: GPU_PLANS },
  { name: 'GPU plans, workgroup-memory sums', paths: ['f16 native'], options: { ...GPU_PLANS, disableFeatures: ['subgroups'] } },
  { name: 'GPU plans, 128 KiB windows', paths: ['f16 native'], options: { ...GPU_PLANS, maxBindingBytes: 128 << 10 } },
];
// The shapes above 1M elements (ResNet-sized, for a GPU's plans) take kernels that smaller ones take
// here too, and would double the file's time: their float64 references dominate it.
const MAX_ELEMENTS = 1 << 20;

/** The one Dawn device (its Gpu keeps Dawn's entry point referenced); each run wraps it with its own options. */
let dawn: Gpu;
/**
 * The kernel variants compiled, from their pipelines' labels ("batchnorm kernel=stats,storage=f16,... wg256"),
 * without the workgroup size: a pipeline constant, which changes no code.
 */
const variants = new Set<string>();
const isNative = (variant: string) => /storage=f16(,|$)/.test(variant);
let nativeCasesPassed = 0;

beforeAll(async () => {
  if (!existsSync(LAVAPIPE_ICD)) throw new Error(LAVAPIPE_MISSING);
  dawn = await requestDawnGpu();
  const { vendor, device, description } = dawn.device.adapterInfo;
  const adapter = `${vendor} ${device} (${description})`;
  if (!dawn.features.shaderF16) throw new Error(`${adapter}, from VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES}, does not offer 'shader-f16': the native f16 kernels cannot run`);
  if (!dawn.features.subgroups) throw new Error(`${adapter} does not offer 'subgroups': the subgroup kernels cannot run`);
  const createComputePipeline = dawn.device.createComputePipeline.bind(dawn.device);
  dawn.device.createComputePipeline = (descriptor) => {
    if (descriptor.label) variants.add(descriptor.label.replace(/^batchnorm /, '').replace(/ wg\d+$/, ''));
    return createComputePipeline(descriptor);
  };
});

afterAll(() => {
  if (!dawn) return;
  const { vendor, device, description } = dawn.device.adapterInfo;
  const native = [...variants].filter(isNative).length;
  console.log(
    `Dawn on ${vendor} ${device} (${description}), shader-f16 ${dawn.features.shaderF16 ? 'on' : 'absent'}: ` +
      `${nativeCasesPassed} native-f16 cases passed, ${native} native-f16 kernel variants run`,
  );
  dawn.destroy();
});

for (const run of RUNS) {
  describe(run.name, () => {
    let devices: KernelPathDevices;
    beforeAll(() => {
      const disabled = run.options.disableFeatures ?? [];
      devices = {
        gpu: Gpu.fromDevice(dawn.device, run.options),
        packed: Gpu.fromDevice(dawn.device, { ...run.options, disableFeatures: [...disabled, 'shader-f16'] }),
      };
    });
    for (const kernelCase of kernelPathCases(run.paths, MAX_ELEMENTS)) {
      it(kernelPathCaseName(kernelCase), async () => {
        const check = await runKernelPathCase(devices, kernelCase);
        expect(check.passed, formatKernelPathCheck(kernelCase, check)).toBe(true);
        if (kernelCase.path === 'f16 native') nativeCasesPassed++;
      });
    }
  });
}

// Runs after the cases (a file's tests run in order): which kernels ran is known only then.
it('ran natively in f16 every kernel variant that the f32 and packed paths ran, with subgroups and with workgroup memory', () => {
  const expected = new Set(
    [...variants]
      .filter((variant) => variant.includes('storage='))
      .map((variant) => variant.replace(/storage=[^,]+/, 'storage=f16'))
      .flatMap((variant) => (variant.includes('subgroups=') ? [true, false].map((on) => variant.replace(/subgroups=\w+/, `subgroups=${on}`)) : [variant])),
  );
  expect([...expected].filter((variant) => !variants.has(variant)).sort()).toEqual([]);
});

// Keras's mask natively in f16 (test/gpu/masked.test.ts runs it packed and in f32): the masked statistics,
// the mask's count and dx's masked pass, against the float64 references, on both plans.
it('runs masked statistics and their backward natively in f16', async () => {
  const shape = [4, 9, 6]; // padded sequences (N, T, C)
  const rnd = seededRandom(77);
  const x = roundToHalf(gaussian(rnd, 216, 1.5, 2));
  const dy = roundToHalf(gaussian(rnd, 216));
  const mask = Float32Array.from({ length: 36 }, (_, p) => (p % 9 < [9, 4, 6, 2][Math.floor(p / 9)]! ? 1 : 0));
  const weight = uniform(rnd, 6, 0.5, 2);
  for (const options of [{}, GPU_PLANS]) {
    const gpu = Gpu.fromDevice(dawn.device, options);
    expect(gpu.features.shaderF16).toBe(true);
    const [xT, dyT] = [x, dy].map((v) => Tensor.fromArray(gpu, v, shape, { dtype: 'f16' })) as [Tensor, Tensor];
    const maskT = Tensor.fromArray(gpu, mask, [4, 9]);
    const weightT = Tensor.fromArray(gpu, weight, [6]);
    const fwd = batchNorm(gpu, xT, { training: true, axis: -1, weight: weightT, mask: maskT });
    const grads = batchNormBackward(gpu, dyT, xT, { training: true, axis: -1, weight: weightT, saveMean: fwd.saveMean, saveInvstd: fwd.saveInvstd, mask: maskT });
    const ref = batchNormReference(x, shape, { training: true, axis: -1, weight, mask });
    compareY('native f16 masked y', await fwd.y.toArray(), x, shape, ref, weight, null, -1, 'f16');
    const saved = { saveMean: await fwd.saveMean.toArray(), saveInvstd: await fwd.saveInvstd.toArray() };
    compareTrainingStatistics('native f16 masked', saved, ref);
    const gradRef = batchNormBackwardReference(dy, x, shape, { training: true, axis: -1, weight, mask, ...saved });
    await compareBackward('native f16 masked', grads, gradRef, { dy, x, shape, weight, training: true, axis: -1, mask, dtype: 'f16' });
    expect([...variants].some((v) => v.includes('kernel=stats-rows-masked,storage=f16'))).toBe(true);
    for (const t of [xT, dyT, maskT, weightT, fwd.y, fwd.saveMean, fwd.saveInvstd, grads.dx, grads.dweight, grads.dbias]) t.destroy();
  }
});
