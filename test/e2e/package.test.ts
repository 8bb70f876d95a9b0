// The package as a consumer gets it: `npm pack` (prepack builds dist/), installed into a scratch project
// with only its declared dependencies plus TypeScript 5.9, 6.0 and 7, the @webgpu/types peer, @types/node and Dawn (the
// `webgpu` package), then
// - the ```ts blocks of the README and the docs/ guides type-checked under --strict, without skipLibCheck,
//   against the installed package by both compilers (TypeScript 7's DOM library declares WebGPU; 5.9 gets
//   @webgpu/types through the package's `types@<6` condition),
// - every block that imports `webgpu-batchnorm/dawn` run on Dawn, the numbers it prints checked against
//   the values its comment gives and against hand-computed ones, and a small forward checked against
//   hand-computed values and the `webgpu-batchnorm/reference` entry.
// npm installs from its cache (`--prefer-offline`, the exact versions in this repository's node_modules,
// which `npm ci` put in that cache), so the install needs no network once the repository is set up.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentationTsBlocks, exampleName, writeReadmeExamples } from '../../scripts/readme-examples.mjs';

const root = join(import.meta.dirname, '..', '..');
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
/** Packages the README's ecosystem examples import; their types are needed, nothing of them runs. */
const ECOSYSTEM = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-webgpu', 'onnxruntime-web'];
/** A Node.js consumer's: the SyncBatchNorm worker example imports node:worker_threads (@types/node). */
const CONSUMER = ['typescript', '@webgpu/types', 'webgpu', '@types/node'];
/**
 * TypeScript 6.0 and 7 beside 5.9 (`typescript`, this repository's compiler), under aliases. Not
 * devDependencies here: each package installs a `tsc` bin, and which one node_modules/.bin/tsc runs would
 * depend on the order of installation. npm fetches them once, then reads them from its cache.
 */
const TYPESCRIPT_6 = 'typescript-6';
const TYPESCRIPT_6_VERSION = '6.0.3';
const TYPESCRIPT_7 = 'typescript-7';
const TYPESCRIPT_7_VERSION = '7.0.2';

/**
 * What the package's typed arrays are for, type-checked with the README's examples: toArray(), getWeights()
 * and stateDict() give arrays over a plain ArrayBuffer, which a Blob and queue.writeBuffer take (an
 * ArrayBufferLike one they refuse on TypeScript 5.9 and 7).
 */
const TYPED_ARRAYS_EXAMPLE = `import { BatchNorm, requestGpu, Tensor } from 'webgpu-batchnorm';
const gpu = await requestGpu();
const values = await Tensor.fromArray(gpu, [1, 2, 3, 4], [1, 4]).toArray();
const staging = gpu.device.createBuffer({ size: values.byteLength, usage: 0x0008 /* COPY_DST */ });
gpu.device.queue.writeBuffer(staging, 0, values);
const bn = new BatchNorm(gpu, 4);
const [gamma] = await bn.getWeights();
const { running_mean } = await bn.stateDict();
const blob = new Blob([values, gamma!, running_mean!]);
console.log(blob.size);
`;

const version = (name: string): string =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

let dir = '';
let app = '';
let tarball = '';
const timings: Record<string, number> = {};

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

function timed<T>(what: string, body: () => T): T {
  const start = performance.now();
  try {
    return body();
  } finally {
    timings[what] = Math.round(performance.now() - start);
  }
}

/** Environment for Dawn: SwiftShader's Vulkan driver where Debian's chromium package ships it. */
function dawnEnv(): NodeJS.ProcessEnv {
  return existsSync(SWIFTSHADER_ICD) && !process.env.VK_ICD_FILENAMES ? { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD } : process.env;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webgpu-batchnorm-package-'));
  app = join(dir, 'app');
  const packed = timed('npm pack (with prepack build)', () =>
    run('npm', ['pack', '--json', '--pack-destination', dir], root),
  );
  const info = JSON.parse(packed.slice(packed.indexOf('\n[') + 1)) as [{ filename: string; files: { path: string }[] }];
  tarball = join(dir, info[0].filename);
  run('mkdir', ['-p', app], dir);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }, null, 2));
  const specs = [...CONSUMER, ...ECOSYSTEM].map((name) => `${name}@${version(name)}`);
  specs.push(`${TYPESCRIPT_6}@npm:typescript@${TYPESCRIPT_6_VERSION}`, `${TYPESCRIPT_7}@npm:typescript@${TYPESCRIPT_7_VERSION}`);
  timed('npm install (scratch project)', () =>
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...specs], app),
  );
}, 600_000);

afterAll(() => {
  console.log(`package test timings (ms): ${JSON.stringify(timings)}`);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package', () => {
  const tarballFiles = () => run('tar', ['-tzf', tarball], dir).trim().split('\n').map((f) => f.replace(/^package\//, ''));

  it('ships dist/, docs/, README.md, LICENSE and package.json only, with internals out of the public types', () => {
    const files = tarballFiles();
    expect(files.filter((f) => !f.startsWith('dist/') && !f.startsWith('docs/')).sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/reference.js', 'dist/reference.d.ts', 'dist/dawn.js', 'dist/dawn.d.ts', 'dist/node.js', 'dist/node.d.ts', 'dist/tfjs.js', 'dist/tfjs.d.ts']) {
      expect(files).toContain(f);
    }
    expect(files.some((f) => f.endsWith('.wgsl') || f.startsWith('src/'))).toBe(false);

    const installed = join(app, 'node_modules', 'webgpu-batchnorm');
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.dependencies).toBeUndefined();
    // Only the tfjs entry has effects on import: it registers its layer class and kernel gradients with tfjs.
    expect(pkg.sideEffects).toEqual(['./dist/tfjs.js']);
    const tfjsPackages = ['@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'];
    expect(Object.keys(pkg.peerDependencies as object)).toEqual([...tfjsPackages, '@webgpu/types', 'webgpu']);
    // Only Node.js users need Dawn, only users of webgpu-batchnorm/tfjs need TensorFlow.js.
    expect(pkg.peerDependenciesMeta).toEqual(Object.fromEntries([...tfjsPackages, 'webgpu'].map((name) => [name, { optional: true }])));
    // TypeScript 7's DOM library declares WebGPU: the main declarations must not bring @webgpu/types too;
    // the `types@<6` ones must (TypeScript 6's DOM library declares WebGPU too).
    const index = readFileSync(join(installed, 'dist', 'index.d.ts'), 'utf8');
    expect(index).not.toMatch(/@webgpu\/types/);
    expect(index).not.toMatch(/@tensorflow/); // the main entry never imports TensorFlow.js
    expect(readFileSync(join(installed, 'dist', 'index.js'), 'utf8')).not.toMatch(/@tensorflow/);
    // The tfjs and node entries' declarations use no WebGPU type, so they need no `types@<6` variant (the
    // node entry's use worker_threads' types, from @types/node).
    for (const file of ['tfjs.d.ts', 'platforms/tfjs/layer.d.ts', 'node.d.ts', 'platforms/worker-group.d.ts', 'modules/sync-group.d.ts']) expect(readFileSync(join(installed, 'dist', file), 'utf8'), file).not.toMatch(/\bGPU[A-Z]\w*|@webgpu/);
    for (const entry of ['index', 'dawn']) {
      const before7 = readFileSync(join(installed, 'dist', `${entry}-with-webgpu-types.d.ts`), 'utf8');
      expect(before7.startsWith('/// <reference types="@webgpu/types"'), entry).toBe(true);
    }
    expect(index).not.toMatch(/batchNormReference|channelMoments/);
    const gpu = readFileSync(join(installed, 'dist', 'runtime', 'gpu.d.ts'), 'utf8');
    for (const internal of ['fromOwnedDevice', 'createBuffer', 'destroyBuffer', 'releaseBuffer', 'scoped', 'lossWithin', 'onDestroy', 'assertAlive', 'assertGpu']) {
      expect(gpu, internal).not.toMatch(new RegExp(`\\b${internal}\\b`));
    }
    expect(readFileSync(join(installed, 'dist', 'runtime', 'tensor.d.ts'), 'utf8')).not.toMatch(/\b(allocate|release)\b/);
  });

  // The README is the package's page on npm: its links to the guides and the API reference must lead
  // somewhere for a reader who has only the package, so the docs ship in the tarball.
  it('resolves every relative link of its README inside the tarball', () => {
    const files = new Set(tarballFiles());
    const readme = readFileSync(join(app, 'node_modules', 'webgpu-batchnorm', 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((link) => !/^([a-z]+:|#)/.test(link));
    expect(links.length).toBeGreaterThanOrEqual(20);
    for (const link of links) expect(files.has(link.replace(/#.*$/, '')), `README link ${link}`).toBe(true);
  });

  it("type-checks every ```ts block of the README and docs/ under --strict against the installed package, with TypeScript 5.9, 6.0 and 7", () => {
    const blocks = documentationTsBlocks();
    expect(blocks.filter((b) => b.file === 'README.md').length).toBeGreaterThanOrEqual(4);
    const names = writeReadmeExamples(app, blocks);
    const ecosystem = names.filter((_, i) => ECOSYSTEM.some((p) => blocks[i]!.code.includes(`'${p.split('/')[0]}`)));
    writeFileSync(join(app, 'typed-arrays.mts'), TYPED_ARRAYS_EXAMPLE);
    const own = [...names.filter((n) => !ecosystem.includes(n)), 'typed-arrays.mts'];
    // The TensorFlow.js layer in a browser and in Node.js, its mask and its renorm, TensorFlow.js by hand, ONNX Runtime Web
    expect(ecosystem.length).toBe(6);
    const config = (include: string[], skipLibCheck: boolean) => ({
      // No "types": WebGPU's types come from TypeScript 6's and 7's DOM libraries, or from the package's `types@<6` entry.
      compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], noEmit: true, skipLibCheck },
      include,
    });
    // The package's own examples with the declaration files checked too.
    writeFileSync(join(app, 'tsconfig.own.json'), JSON.stringify(config(own, false), null, 2));
    // tfjs-core pins @webgpu/types 0.1.38 and references it from its declarations: its globals clash with
    // the current ones (and with TypeScript 7's DOM library), so a tfjs project needs skipLibCheck whatever
    // else it uses.
    writeFileSync(join(app, 'tsconfig.ecosystem.json'), JSON.stringify(config(ecosystem, true), null, 2));
    // The Node.js configuration the README documents (its "TypeScript in Node.js"): Node's types named, as
    // @tsconfig/node20 and the like name them, and "DOM" added to lib for WebGPU's types. Without "DOM" the
    // package's declarations do not compile: the README says so, and this checks that it is so.
    const nodeExamples = names.filter((n, i) => /from 'webgpu-batchnorm\/(dawn|node)'/.test(blocks[i]!.code) && !ecosystem.includes(n));
    expect(nodeExamples.length).toBeGreaterThanOrEqual(3);
    const nodeConfig = (lib: string[]) => ({
      compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib, types: ['node'], noEmit: true },
      include: nodeExamples,
    });
    writeFileSync(join(app, 'tsconfig.node.json'), JSON.stringify(nodeConfig(['ES2022', 'DOM']), null, 2));
    writeFileSync(join(app, 'tsconfig.node-without-dom.json'), JSON.stringify(nodeConfig(['ES2022']), null, 2));
    const expected: Record<string, RegExp> = { typescript: /^TypeScript 5\.9\./, [TYPESCRIPT_6]: /^TypeScript 6\.0\./, [TYPESCRIPT_7]: /^TypeScript 7\./ };
    for (const compiler of ['typescript', TYPESCRIPT_6, TYPESCRIPT_7]) {
      const tsc = join(app, 'node_modules', compiler, 'bin', 'tsc');
      const name = `TypeScript ${run(process.execPath, [tsc, '--version'], app).trim().replace(/^Version /, '')}`;
      expect(name).toMatch(expected[compiler]!);
      timed(`tsc (README and docs, own examples; ${name})`, () => run(process.execPath, [tsc, '-p', 'tsconfig.own.json'], app));
      timed(`tsc (README and docs, tfjs and ORT examples; ${name})`, () => run(process.execPath, [tsc, '-p', 'tsconfig.ecosystem.json'], app));
      timed(`tsc (Node.js examples, lib ES2022 + DOM, types node; ${name})`, () => run(process.execPath, [tsc, '-p', 'tsconfig.node.json'], app));
      expect(() => run(process.execPath, [tsc, '-p', 'tsconfig.node-without-dom.json'], app), `${name} without DOM`).toThrow(/error TS2304: Cannot find name '(GPU\w*|BufferSource|EventTarget)'/);
    }
  });

  // CommonJS (what `npm init -y` makes): require() of the ES modules, which Node >= 20.19 loads through the
  // exports' `default` condition.
  it('works from CommonJS: require() of the main, dawn, reference and node entries, and a forward on Dawn', () => {
    writeFileSync(
      join(app, 'require.cjs'),
      `const { batchNorm, Tensor } = require('webgpu-batchnorm');
const { requestDawnGpu } = require('webgpu-batchnorm/dawn');
const { batchNormReference } = require('webgpu-batchnorm/reference');
const { createWorkerGroup } = require('webgpu-batchnorm/node');
(async () => {
  const gpu = await requestDawnGpu();
  const x = Tensor.fromArray(gpu, [1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
  const { y } = batchNorm(gpu, x, { training: true });
  const ref = batchNormReference([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], { training: true });
  const gpuY = await y.toArray();
  console.log(JSON.stringify({ worst: Math.max(...Array.from(gpuY, (v, i) => Math.abs(v - ref.y[i]))), endpoints: createWorkerGroup(2).length }));
  gpu.destroy();
})();
`,
    );
    const out = timed('node require.cjs', () => run(process.execPath, ['require.cjs'], app, dawnEnv()));
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as { worst: number; endpoints: number };
    expect(result.worst).toBeLessThan(1e-5);
    expect(result.endpoints).toBe(2);
  });

  // TensorFlow.js in Node.js: tfjs's webgpu backend on Dawn through startTfjsWebGpu, a model with the layer
  // trained a few steps, saved and loaded back; the README's Node tfjs example runs the same calls.
  it('trains, saves and loads a tfjs model with the layer on Dawn in Node.js (startTfjsWebGpu)', () => {
    writeFileSync(
      join(app, 'tfjs-node.mjs'),
      `import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-webgpu';
import { requestDawnGpu } from 'webgpu-batchnorm/dawn';
import { BatchNormalization, batchNormalization, startTfjsWebGpu } from 'webgpu-batchnorm/tfjs';

// The layer says once when it falls back to tfjs's own batch norm: there must be nothing to say.
const warnings = [];
const warn = console.warn;
console.warn = (...args) => (warnings.push(args.join(' ')), warn(...args));
const gpu = await requestDawnGpu();
await startTfjsWebGpu(gpu);
const model = tfl.sequential({
  layers: [tfl.layers.dense({ inputShape: [6], units: 4 }), batchNormalization({ momentum: 0.9 }), tfl.layers.dense({ units: 1 })],
});
model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
const xs = tf.randomNormal([32, 6], 0, 1, 'float32', 1);
const ys = tf.randomNormal([32, 1], 0, 1, 'float32', 2);
const history = await model.fit(xs, ys, { batchSize: 16, epochs: 3 });
let artifacts;
await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) })));
const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
const [before, after] = await Promise.all([model, loaded].map((m) => m.predict(xs).data()));
const maxDiff = Math.max(...Array.from(before, (v, i) => Math.abs(v - after[i])));
console.log(JSON.stringify({ backend: tf.getBackend(), sameDevice: tf.backend().device === gpu.device, losses: history.history.loss, maxDiff, ours: [model, loaded].every((m) => m.layers[1] instanceof BatchNormalization), warnings }));
`,
    );
    const out = timed('node tfjs-node.mjs', () => run(process.execPath, ['tfjs-node.mjs'], app, dawnEnv()));
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as { backend: string; sameDevice: boolean; losses: number[]; maxDiff: number; ours: boolean; warnings: string[] };
    expect(result.backend).toBe('webgpu');
    expect(result.sameDevice).toBe(true);
    expect(result.losses).toHaveLength(3);
    for (const loss of result.losses) expect(Number.isFinite(loss)).toBe(true);
    expect(result.maxDiff).toBeLessThan(1e-5); // the loaded model predicts as the trained one
    expect(result.ours).toBe(true); // the loaded model's layer is this library's class again
    expect(result.warnings).toEqual([]);
  });

  // The README's tfjs example for Node.js, as it is: it trains on Dawn and prints the backend's name.
  const tfjsNodeBlocks = documentationTsBlocks().filter((b) => b.code.includes('startTfjsWebGpu('));
  it('runs the README\'s TensorFlow.js example for Node.js on Dawn', () => {
    expect(tfjsNodeBlocks.length).toBe(1);
    const file = exampleName(tfjsNodeBlocks[0]!).replace(/\.mts$/, '.mjs');
    writeFileSync(join(app, file), tfjsNodeBlocks[0]!.code);
    const out = timed(`node ${file}`, () => run(process.execPath, [file], app, dawnEnv()));
    expect(out.trim().split('\n').at(-1)).toBe('webgpu');
  });

  // Every Dawn example prints the normalized [2, 2, 2] tensor [1, ..., 8] and says so in its comment
  // (the tfjs one on Dawn prints the backend's name: the test above runs it).
  const dawnBlocks = documentationTsBlocks().filter((b) => b.code.includes("from 'webgpu-batchnorm/dawn'") && !b.code.includes("'@tensorflow/"));
  it('has Dawn examples: the Node.js one and the encoder one, in the README', () => {
    expect(dawnBlocks.filter((b) => b.file === 'README.md').length).toBeGreaterThanOrEqual(2);
    expect(dawnBlocks.some((b) => b.code.includes('encoder }'))).toBe(true);
  });
  for (const block of dawnBlocks) {
    it(`runs ${block.file}:${block.line} on Dawn and prints the values its comment gives`, () => {
      const file = exampleName(block).replace(/\.mts$/, '.mjs');
      writeFileSync(join(app, file), block.code); // plain JavaScript: the Dawn examples have no type annotations
      const out = timed(`node ${file}`, () => run(process.execPath, [file], app, dawnEnv()));
      const values = (out.match(/-?\d+\.\d+(e-?\d+)?/g) ?? []).map(Number);
      // The printing line's comment: `// ... about [v0, v1, ...]`, two decimals.
      const comment = /console\.log\(.*\/\/.*about \[([^\]]+)\]/.exec(block.code);
      expect(comment, 'the console.log line states the values it prints').not.toBeNull();
      const stated = comment![1]!.split(',').map(Number);
      expect(values, out).toHaveLength(stated.length);
      values.forEach((v, i) => expect(Math.abs(v - stated[i]!), `printed[${i}] = ${v}, the comment says ${stated[i]}`).toBeLessThanOrEqual(0.005 + 1e-9));
      // Exact: x = [1..8] as [N=2, C=2, L=2]; channel 0 holds 1, 2, 5, 6 (mean 3.5, biased variance 4.25).
      expect(block.code).toContain('[1, 2, 3, 4, 5, 6, 7, 8]');
      const a = 1.5 / Math.sqrt(4.25 + 1e-5);
      const b = 2.5 / Math.sqrt(4.25 + 1e-5);
      const expected = [-b, -a, -b, -a, a, b, a, b];
      values.forEach((v, i) => expect(Math.abs(v - expected[i]!), `y[${i}] = ${v}`).toBeLessThan(1e-5));
    });
  }

  it('runs a forward on Dawn whose y, saveMean and saveInvstd match hand-computed values and the reference entry', () => {
    writeFileSync(
      join(app, 'check.mjs'),
      `import { batchNorm, Tensor } from 'webgpu-batchnorm';
import { requestDawnGpu } from 'webgpu-batchnorm/dawn';
import { batchNormReference } from 'webgpu-batchnorm/reference';

const gpu = await requestDawnGpu();
// [N=2, C=3, L=2]: channel c holds c*10 + {0, 2, 4, 6}, mean c*10 + 3, biased variance 5
const shape = [2, 3, 2];
const data = [0, 2, 10, 12, 20, 22, 4, 6, 14, 16, 24, 26];
const weight = [1, 2, -1], bias = [0, 1, 0.5];
const t = (values, dims) => Tensor.fromArray(gpu, values, dims);
const out = batchNorm(gpu, t(data, shape), { training: true, weight: t(weight, [3]), bias: t(bias, [3]), eps: 0 });
const ref = batchNormReference(data, shape, { training: true, weight, bias, eps: 0 });
console.log(JSON.stringify({
  y: [...(await out.y.toArray())],
  saveMean: [...(await out.saveMean.toArray())],
  saveInvstd: [...(await out.saveInvstd.toArray())],
  refY: [...ref.y],
  liveBuffers: gpu.liveBuffers,
}));
gpu.destroy();
`,
    );
    const out = timed('node check.mjs', () => run(process.execPath, ['check.mjs'], app, dawnEnv()));
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number[]>;
    const s = 1 / Math.sqrt(5);
    const data = [0, 2, 10, 12, 20, 22, 4, 6, 14, 16, 24, 26];
    const [weight, bias, mean] = [[1, 2, -1], [0, 1, 0.5], [3, 13, 23]];
    const expectedY = data.map((x, i) => {
      const c = Math.floor(i / 2) % 3;
      return weight[c]! * (x - mean[c]!) * s + bias[c]!;
    });
    const close = (actual: number[] | undefined, expected: number[], what: string) => {
      expect(actual, what).toHaveLength(expected.length);
      expected.forEach((e, i) => expect(Math.abs(actual![i]! - e), `${what}[${i}] = ${actual![i]}, expected ${e}`).toBeLessThan(1e-5));
    };
    close(result.y, expectedY, 'y');
    close(result.refY, expectedY, 'reference y');
    close(result.saveMean, [3, 13, 23], 'saveMean');
    close(result.saveInvstd, [s, s, s], 'saveInvstd');
  });
});
