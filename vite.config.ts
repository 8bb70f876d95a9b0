import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// `vite build` makes the library (dist/index.js: ESM, no runtime dependencies, WGSL inlined);
// `vite` (npm start) serves the demo page from demo/.
export default defineConfig(({ command }) =>
  command === 'serve'
    ? {
        root: resolve(import.meta.dirname, 'demo'),
        server: { host: '127.0.0.1', port: 5173, fs: { allow: [import.meta.dirname] } },
      }
    : {
        build: {
          lib: { entry: resolve(import.meta.dirname, 'src/index.ts'), formats: ['es'], fileName: 'index' },
          outDir: 'dist',
          emptyOutDir: true,
          target: 'es2022',
          minify: false, // a readable library; consumers' bundlers minify
        },
      },
);
