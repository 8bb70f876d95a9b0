// `npm run check:node`: correctness of every kernel path on the adapter at hand, for GPU machines with
// no browser (the test suite runs in Chromium, whose adapter here is SwiftShader, and on lavapipe for
// native f16). The cases are bench/kernel-paths.ts's, which test/dawn/ runs too: f32, native f16
// (where the adapter has 'shader-f16') and packed f16 (the same adapter with 'shader-f16' left off),
// training and inference. Bundled with the Node benchmark (vite.bench-node.config.ts); exits 1 if any
// case fails.
import { parseArgs } from 'node:util';
import { formatKernelPathCheck, KERNEL_PATHS, kernelPathCases, runKernelPathCase } from '../bench/index.js';
import { describeAdapter } from '../bench/environment.js';
import { reexecOnSwiftShaderWithoutGpu, requestDawnGpu } from './dawn.js';

const { values } = parseArgs({ options: { 'max-elements': { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('usage: node build-node/gpu-check.js [--max-elements N]  (default: all shapes, up to 3.2M elements)');
  process.exit(0);
}
const maxElements = values['max-elements'] === undefined ? Infinity : Number(values['max-elements']);

reexecOnSwiftShaderWithoutGpu('check:node');
const gpu = await requestDawnGpu();
const packed = await requestDawnGpu({ disableFeatures: ['shader-f16'] });
console.log(`adapter: ${describeAdapter(gpu.device.adapterInfo).label}; shader-f16: ${gpu.features.shaderF16 ? 'yes (native f16 checked)' : 'no'}`);
const paths = KERNEL_PATHS.filter((path) => path !== 'f16 native' || gpu.features.shaderF16);

let failures = 0;
for (const kernelCase of kernelPathCases(paths, maxElements)) {
  const check = await runKernelPathCase({ gpu, packed }, kernelCase);
  if (!check.passed) failures++;
  console.log(formatKernelPathCheck(kernelCase, check));
}
console.log(failures === 0 ? 'all cases passed' : `${failures} case(s) FAILED`);
gpu.destroy();
packed.destroy();
// Dawn's event loop integration can keep Node alive after the last device is destroyed.
process.exit(failures === 0 ? 0 : 1);
