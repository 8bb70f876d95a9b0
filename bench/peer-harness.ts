// The peer comparison's machinery: the inputs of each case, our contender, the check against the float64
// reference, and the one timing method every library is measured by.
//
// Timing (the same for every library, ours included): after a checked call (which also compiles), calls
// are made back to back, each as the library's users make it (ours: a standalone batchNorm call that
// validates, encodes and submits, writing `out` tensors so nothing is allocated; TensorFlow.js: its ops
// inside tf.tidy, which disposes their outputs; ONNX Runtime Web: `await session.run(...)`, which submits),
// then one flush (TensorFlow.js batches its dispatches into a command encoder it submits every 15 of
// them: its pending ones are submitted; the others have nothing pending), then one
// `await device.queue.onSubmittedWorkDone()`. Wall time of the trial / calls. The first trial of one call
// sizes the trials (bench/statistics.ts iterationsFor), the warm-up trials are dropped, the median of
// the rest is the result (summarizeTrials, the settings of bench/benchmark.ts).
import { batchNorm, batchNormBackward, DEFAULT_EPS, DEFAULT_MOMENTUM, Tensor, type Gpu } from '../src/index.js';
import { batchNormBackwardReference, batchNormReference, type ReferenceForwardResult } from '../src/reference.js';
import { numElements } from '../src/runtime/shape.js';
import { backwardTolerances, yTolerance } from '../src/reference/tolerances.js';
import { elementAccuracy } from './accuracy.js';
import { comparePeers, ortSupports, tfjsSupports, type PeerCase, type PeerComparison, type PeerTiming } from './peers.js';
import { inErrorScopes } from './error-scopes.js';
import { medianOfTrials, type BenchmarkSettings } from './statistics.js';
import { seededUniform, syntheticInput, unitNoise } from './synthetic.js';
import type { Contender, PeerCaseData, PeerOutputs, PreparedPeerCase } from './contender.js';

export interface PeerOptions {
  /**
   * ONNX Runtime Web's ort-wasm-simd-threaded.asyncify.wasm: its URL in a page (a `?url` import), its bytes
   * in Node.js, where ORT's web build can only fetch() and Node's fetch() reads no file: URLs
   * (scripts/bench-node.ts reads the copy the build puts beside the bundle).
   */
  readonly ortWasm: string | Uint8Array;
}

/** The inputs of every case of one shape ([N, C, H, W]); NHWC ones are the same values transposed. */
export class ShapeInputs {
  readonly #shape: readonly number[];
  readonly #nchw: Omit<PeerCaseData, 'mode' | 'layout'>;
  #nhwc: Omit<PeerCaseData, 'mode' | 'layout'> | null = null;

  constructor(shape: readonly [number, number, number, number], seed: number) {
    this.#shape = shape;
    const [, channels] = shape;
    const { x, channelMean, channelStd } = syntheticInput(shape, seed);
    const random = seededUniform(seed + 3000);
    // Parameters away from PyTorch's (1, 0, 0, 1), so that a library dropping one would fail its check.
    const weight = Float32Array.from({ length: channels }, () => 0.5 + random());
    const bias = Float32Array.from({ length: channels }, () => random() - 0.5);
    const runningMean = Float32Array.from(channelMean, (m, c) => m + 0.2 * channelStd[c]! * (random() - 0.5));
    const runningVar = Float32Array.from(channelStd, (s) => s * s * (0.8 + 0.4 * random()));
    const dy = unitNoise(x.length, seed + 2000);
    this.#nchw = { dims: [...shape], channels, axis: 1, x, dy, weight, bias, runningMean, runningVar, eps: DEFAULT_EPS };
  }

  data(peerCase: PeerCase): PeerCaseData {
    if (peerCase.layout === 'NCHW') return { ...peerCase, ...this.#nchw };
    if (!this.#nhwc) {
      const [n, c, h, w] = this.#shape as [number, number, number, number];
      this.#nhwc = { ...this.#nchw, dims: [n, h, w, c], axis: -1, x: toNhwc(this.#nchw.x, n, c, h * w), dy: toNhwc(this.#nchw.dy, n, c, h * w) };
    }
    return { ...peerCase, ...this.#nhwc };
  }
}

/** [N, C, S] to [N, S, C]. */
export function toNhwc(values: Float32Array, batch: number, channels: number, spatial: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const from = (n * channels + c) * spatial;
      const to = n * spatial * channels + c;
      for (let s = 0; s < spatial; s++) out[to + s * channels] = values[from + s]!;
    }
  }
  return out;
}

/** The float64 forward of a case (batch statistics in training and forward+backward, running ones in inference). */
export function caseReference(data: PeerCaseData): ReferenceForwardResult {
  const { x, dims, axis, weight, bias, runningMean, runningVar, eps } = data;
  return batchNormReference(x, dims, { training: data.mode !== 'inference', axis, weight, bias, runningMean, runningVar, eps });
}

export interface PeerCheck {
  readonly passed: boolean;
  readonly worstRatio: number;
  readonly worstOutput: string;
}

/**
 * A library's outputs against the float64 reference under src/reference/tolerances.ts: y against the forward; for
 * forward+backward dx, dweight and dbias against the float64 backward fed the statistics the library
 * normalized with (its own float32 ones where it hands them over).
 */
export function checkCase(data: PeerCaseData, reference: ReferenceForwardResult, outputs: PeerOutputs): PeerCheck {
  const { x, dy, dims, axis, weight, bias } = data;
  const results = [{ what: 'y', accuracy: elementAccuracy(outputs.y, reference.y, yTolerance(x, dims, reference, weight, bias, axis)) }];
  if (data.mode === 'forward+backward') {
    const { dx, dweight, dbias } = outputs;
    if (!dx || !dweight || !dbias) throw new Error('a forward+backward case must hand over dx, dweight and dbias');
    const saveMean = outputs.mean ?? reference.saveMean;
    const saveInvstd = outputs.invstd ?? reference.saveInvstd;
    const backward = batchNormBackwardReference(dy, x, dims, { training: true, axis, weight, saveMean, saveInvstd });
    const tolerance = backwardTolerances({ dy, x, shape: dims, weight, training: true, axis }, backward);
    results.push(
      { what: 'dx', accuracy: elementAccuracy(dx, backward.dx, tolerance.dx) },
      { what: 'dweight', accuracy: elementAccuracy(dweight, backward.dweight!, tolerance.dweight) },
      { what: 'dbias', accuracy: elementAccuracy(dbias, backward.dbias!, tolerance.dbias) },
    );
  }
  const worst = results.reduce((a, b) => (b.accuracy.worstRatio > a.accuracy.worstRatio ? b : a));
  return { passed: results.every((r) => r.accuracy.passed), worstRatio: worst.accuracy.worstRatio, worstOutput: worst.what };
}

export interface Timing {
  readonly ms: number;
  readonly iterations: number;
}

/** The one timing method (see the top of this file): median wall ms per call of back-to-back calls. */
export function timeCalls(gpu: Gpu, settings: BenchmarkSettings, prepared: PreparedPeerCase): Promise<Timing> {
  return medianOfTrials(settings, async (iterations) => {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) {
      const pending = prepared.run();
      if (pending instanceof Promise) await pending;
    }
    prepared.flush();
    await gpu.untilLost(gpu.device.queue.onSubmittedWorkDone());
    return (performance.now() - start) / iterations;
  });
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * One contender in one case: set up, one checked call (in error scopes), timed calls, disposed. Never
 * throws: a failure is a result (ms null where the case could not be timed).
 */
export async function measureContender(gpu: Gpu, settings: BenchmarkSettings, contender: Contender, data: PeerCaseData, reference: ReferenceForwardResult): Promise<PeerTiming> {
  let prepared: PreparedPeerCase | undefined;
  let result: PeerTiming;
  try {
    const check = await inErrorScopes(gpu, async () => {
      prepared = await contender.prepare(data);
      return checkCase(data, reference, await prepared.outputs());
    });
    const timing = await timeCalls(gpu, settings, prepared!);
    result = { library: contender.name, code: prepared!.code, ms: timing.ms, iterations: timing.iterations, ...check };
  } catch (error) {
    result = { library: contender.name, code: prepared?.code ?? '', ms: null, iterations: 0, passed: false, worstRatio: Infinity, worstOutput: '', error: message(error) };
  }
  try {
    await prepared?.dispose();
  } catch (error) {
    result = { ...result, passed: false, error: [result.error, message(error)].filter(Boolean).join('; ') };
  }
  return result;
}

/** One case of one shape: ours and every peer that supports it, by the same method. */
export async function comparePeerCase(gpu: Gpu, settings: BenchmarkSettings, data: PeerCaseData, ours: Contender, peers: readonly Contender[]): Promise<PeerComparison> {
  const reference = caseReference(data);
  const oursTiming = await measureContender(gpu, settings, ours, data, reference);
  const peerTimings: PeerTiming[] = [];
  for (const peer of peers) if (peer.supports(data)) peerTimings.push(await measureContender(gpu, settings, peer, data, reference));
  return comparePeers(data, oursTiming, peerTimings);
}

/** webgpu-batchnorm as a contender: standalone calls (each validates, encodes and submits) into `out` tensors. */
export function ourContender(gpu: Gpu): Contender {
  return {
    name: 'webgpu-batchnorm',
    supports: () => true,
    async prepare(data) {
      const { dims, channels, axis, eps, mode } = data;
      const tensors: Tensor[] = [];
      const upload = (values: Float32Array, tensorDims: readonly number[], label: string) => {
        const tensor = Tensor.fromArray(gpu, values, tensorDims, { label: `peers ${label}` });
        tensors.push(tensor);
        return tensor;
      };
      const zeros = (tensorDims: readonly number[], label: string) => upload(new Float32Array(numElements(tensorDims)), tensorDims, label);
      try {
        const x = upload(data.x, dims, 'x');
        const weight = upload(data.weight, [channels], 'weight');
        const bias = upload(data.bias, [channels], 'bias');
        const runningMean = upload(data.runningMean, [channels], 'runningMean');
        const runningVar = upload(data.runningVar, [channels], 'runningVar');
        const out = { y: zeros(dims, 'y'), saveMean: zeros([channels], 'saveMean'), saveInvstd: zeros([channels], 'saveInvstd') };
        const common = { axis, weight, bias, runningMean, runningVar, eps };
        const axisText = axis === 1 ? '' : ', axis: -1';
        let run: () => void;
        let code: string;
        let gradients: { dx: Tensor; dweight: Tensor; dbias: Tensor } | null = null;
        if (mode === 'inference') {
          run = () => void batchNorm(gpu, x, { ...common, training: false, out: { y: out.y } });
          code = `batchNorm(gpu, x, { training: false, weight, bias, runningMean, runningVar${axisText}, out: { y } })`;
        } else {
          const forward = () => batchNorm(gpu, x, { ...common, training: true, momentum: DEFAULT_MOMENTUM, out });
          code = `batchNorm(gpu, x, { training: true, weight, bias, runningMean, runningVar${axisText}, out: { y, saveMean, saveInvstd } })`;
          run = forward;
          if (mode === 'forward+backward') {
            const dy = upload(data.dy, dims, 'dy');
            const grads = { dx: zeros(dims, 'dx'), dweight: zeros([channels], 'dweight'), dbias: zeros([channels], 'dbias') };
            gradients = grads;
            const backward = { training: true as const, axis, weight, saveMean: out.saveMean, saveInvstd: out.saveInvstd, out: grads };
            run = () => {
              forward();
              batchNormBackward(gpu, dy, x, backward);
            };
            code += `; batchNormBackward(gpu, dy, x, { training: true, weight, saveMean, saveInvstd${axisText}, out: { dx, dweight, dbias } })`;
          }
        }
        return {
          code,
          run,
          flush: () => {},
          async outputs() {
            run();
            const y = await out.y.toArray();
            if (!gradients) return { y };
            const [dx, dweight, dbias, mean, invstd] = await Promise.all(
              [gradients.dx, gradients.dweight, gradients.dbias, out.saveMean, out.saveInvstd].map((t) => t.toArray()),
            );
            return { y, dx: dx!, dweight: dweight!, dbias: dbias!, mean: mean!, invstd: invstd! };
          },
          dispose() {
            for (const tensor of tensors) tensor.destroy();
          },
        };
      } catch (error) {
        for (const tensor of tensors) tensor.destroy();
        throw error;
      }
    },
    dispose() {},
  };
}

/** A library that could not be loaded: each case it would have run reports why. */
function unavailable(name: string, supports: (peerCase: PeerCase) => boolean, error: unknown): Contender {
  return {
    name,
    supports,
    prepare: () => Promise.reject(new Error(`${name} could not be loaded: ${message(error)}`)),
    dispose() {},
  };
}

/**
 * TensorFlow.js and ONNX Runtime Web on `gpu`'s device, imported only now (the library never imports
 * them; a page loads them when its benchmark runs). A library that fails to load stays in the list and
 * fails its cases with the reason.
 */
export async function loadPeers(gpu: Gpu, options: PeerOptions): Promise<Contender[]> {
  const [tfjs, ort] = await Promise.all([
    import('./peer-tfjs.js')
      .then((m) => m.tfjsContender(gpu))
      .catch((error: unknown) => unavailable('TensorFlow.js', tfjsSupports, error)),
    import('./peer-ort.js')
      .then((m) => m.ortContender(gpu, options.ortWasm))
      .catch((error: unknown) => unavailable('ONNX Runtime Web', ortSupports, error)),
  ]);
  return [tfjs, ort];
}
