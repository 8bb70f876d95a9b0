import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

// `npm run bench:node` and `check:node` bundle the Node scripts (harness, library, WGSL, and the peers
// TensorFlow.js and ONNX Runtime Web) into ES modules, build-node/bench-node.js and build-node/gpu-check.js,
// that need only the `webgpu` package at run time (../shared/gpu-kit/): node_modules does not travel to a
// GPU server. ONNX Runtime Web's JavaScript (its emscripten glue included) is in the bundle; the one file
// it loads at run time, its wasm (27 MB), goes beside the bundle gzipped (6.7 MB: the GPU machine's
// files travel within 64 MiB), and scripts/bench-node.ts hands its bytes to ort.env.wasm.wasmBinary.
const ORT_WASM = createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm');

function gzipOrtWasm(): Plugin {
  return {
    name: 'gzip-ort-wasm',
    writeBundle({ dir }) {
      if (dir) writeFileSync(join(dir, `${basename(ORT_WASM)}.gz`), gzipSync(readFileSync(ORT_WASM)));
    },
  };
}

export default defineConfig({
  plugins: [gzipOrtWasm()],
  build: {
    ssr: true,
    outDir: 'build-node',
    emptyOutDir: true,
    target: 'node20',
    rollupOptions: {
      input: {
        'bench-node': resolve(import.meta.dirname, 'scripts/bench-node.ts'),
        'gpu-check': resolve(import.meta.dirname, 'scripts/gpu-check.ts'),
      },
      external: ['webgpu'],
      output: { entryFileNames: '[name].js', format: 'es' },
    },
  },
  ssr: { noExternal: true, external: ['webgpu'] },
});
