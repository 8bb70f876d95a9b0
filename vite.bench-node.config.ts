import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// `npm run bench:node` bundles the Node benchmark (harness, library, WGSL) into one ES module,
// build-node/bench-node.js, that needs only the `webgpu` package at run time (../shared/gpu-kit/).
export default defineConfig({
  build: {
    ssr: resolve(import.meta.dirname, 'scripts/bench-node.ts'),
    outDir: 'build-node',
    emptyOutDir: true,
    target: 'node20',
    rollupOptions: {
      external: ['webgpu'],
      output: { entryFileNames: 'bench-node.js', format: 'es' },
    },
  },
  ssr: { noExternal: true, external: ['webgpu'] },
});
