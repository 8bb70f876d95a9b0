import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// `npm run bench:node` and `check:node` bundle the Node scripts (harness, library, WGSL) into ES modules,
// build-node/bench-node.js and build-node/gpu-check.js, that need only the `webgpu` package at run time
// (../shared/gpu-kit/).
export default defineConfig({
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
