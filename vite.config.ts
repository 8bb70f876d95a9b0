import { resolve } from 'node:path';
import { defineConfig, type UserConfig } from 'vite';

// `vite build` makes the library (dist/index.js and dist/reference.js: ESM, no runtime dependencies, WGSL inlined);
// `vite` (npm start) serves the demo page from demo/, and `vite build --mode demo` builds it into demo-dist/.
// Cross-origin isolation gives the page a 5 us performance.now() instead of 100 us: the benchmark's
// host-side timings need it.
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

const demo: UserConfig = {
  root: resolve(import.meta.dirname, 'demo'),
  base: './',
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [import.meta.dirname] }, headers: isolation },
  preview: { headers: isolation },
  // The benchmark's peers (bench/peer-tfjs.ts, peer-ort.ts) and the TensorFlow.js panel (demo/tfjs/), imported
  // when a run reaches them: pre-bundled at start-up, or the dev server would re-bundle and reload the page in
  // the middle of a run.
  optimizeDeps: {
    include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-core/dist/register_all_gradients', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-layers', 'onnxruntime-web/webgpu'],
  },
  build: {
    outDir: resolve(import.meta.dirname, 'demo-dist'),
    emptyOutDir: true,
    target: 'es2022',
    // The MNIST digits' chunk (the mnist package's JSON, about 20 MB) is large by nature and loaded only when
    // the training panel starts; every other chunk stays far below this. Transforming that JSON is most of the
    // build's time, which Rolldown would otherwise report at every build.
    chunkSizeWarningLimit: 21_000,
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
};

const library: UserConfig = {
  build: {
    // Five entries: the library, `webgpu-batchnorm/reference` (the float64 CPU references),
    // `webgpu-batchnorm/dawn` (a device on Dawn in Node.js; 'webgpu' stays an import of the caller's install),
    // `webgpu-batchnorm/node` (SyncBatchNorm's group of worker threads; node: modules stay Node's) and
    // `webgpu-batchnorm/tfjs` (the TensorFlow.js layer; TensorFlow.js stays an import of the caller's).
    lib: {
      entry: {
        index: resolve(import.meta.dirname, 'src/index.ts'),
        reference: resolve(import.meta.dirname, 'src/reference.ts'),
        dawn: resolve(import.meta.dirname, 'src/dawn.ts'),
        node: resolve(import.meta.dirname, 'src/node.ts'),
        tfjs: resolve(import.meta.dirname, 'src/tfjs.ts'),
      },
      formats: ['es'],
      fileName: (_format, name) => `${name}.js`,
    },
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    minify: false, // a readable library; consumers' bundlers minify
    rolldownOptions: { external: ['webgpu', /^@tensorflow\//, /^node:/] },
  },
};

export default defineConfig(({ command, mode }) => (command === 'serve' || mode === 'demo' ? demo : library));
