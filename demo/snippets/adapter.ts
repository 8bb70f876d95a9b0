// The adapter panel's API call. Shown on the page between the region markers; type-checked by `tsc --noEmit`
// against the library's source (tsconfig.json maps the package names to src/).
// #region shown
import { requestGpu } from 'webgpu-batchnorm';

// Turns on 'shader-f16', 'subgroups' and 'timestamp-query' where offered.
const gpu = await requestGpu();
const { adapterInfo, limits } = gpu.device;
console.log(adapterInfo, gpu.features, limits.maxBufferSize);
// #endregion shown
