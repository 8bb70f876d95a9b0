// The layer rule of docs/design.md ("Source layout"), checked by `npm test` (npm run check:layers).
// Bottom-up: runtime -> engine -> ops -> modules -> platforms; reference (the float64 CPU references and
// tolerances) beside them on runtime alone; the package entries at the top of src/ above everything. A
// file imports from its own layer and those below it, never from one above, never from an entry, and the
// library never imports the benchmark, the demo, the tests or the scripts.
const STACK = ['runtime', 'engine', 'ops', 'modules', 'platforms'];
const REFERENCE_MAY_USE = ['runtime'];

const upward = STACK.map((layer, i) => ({
  name: `${layer}-imports-upward`,
  comment: `src/${layer}/ imports only from ${STACK.slice(0, i + 1).join(', ')}: a layer never knows the ones above it`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${[...STACK.slice(i + 1), 'reference'].join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'reference-imports-gpu-layers',
      comment: `src/reference/ is plain float64 arithmetic: it imports only from ${REFERENCE_MAY_USE.join(', ')}`,
      severity: 'error',
      from: { path: '^src/reference/' },
      to: { path: `^src/(?!(${REFERENCE_MAY_USE.join('|')}|reference)/)` },
    },
    {
      name: 'layer-imports-entry',
      comment: 'the package entries (src/*.ts) sit above every layer: nothing inside a layer imports them',
      severity: 'error',
      from: { path: '^src/[^/]+/' },
      to: { path: '^src/[^/]+\\.ts$' },
    },
    {
      name: 'library-imports-tools',
      comment: 'the library (src/) never imports the benchmark, the demo, the tests or the scripts',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(bench|demo|test|scripts)/' },
    },
    {
      name: 'no-circular',
      comment: 'no import circles, inside a layer or across the benchmark',
      severity: 'error',
      from: { path: '^(src|bench)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.wgsl(\\?raw)?$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
