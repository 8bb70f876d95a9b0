/// <reference types="vite/client" />
// The benchmark's peer comparison (bench/peer-harness.ts) on one small shape in headless Chromium:
// TensorFlow.js and ONNX Runtime Web on our device, every case of every library run, checked against the
// float64 reference and timed (no assertion on times: SwiftShader's say nothing about a GPU). Every output
// must pass; tfjs must leave no tensor behind; a library with wrong output is reported, never the best.
import * as tf from '@tensorflow/tfjs-core';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../bench/benchmark.js';
import type { Contender } from '../../bench/contender.js';
import { comparePeerCase, loadPeers, measureContender, ourContender, ShapeInputs, caseReference } from '../../bench/peer-harness.js';
import { caseLabel, ortSupports, PEER_CASES, tfjsSupports, type PeerComparison } from '../../bench/peers.js';
import { requestGpu, type Gpu } from '../../src/index.js';

// H*W = 6 (no vec4 path), N*H*W = 12 values per channel; small enough that SwiftShader takes seconds.
const SHAPE = [2, 3, 2, 3] as const;
// One short trial: the test checks that timing runs, not what it measures.
const SETTINGS = { ...DEFAULT_SETTINGS, trials: 1, warmupTrials: 0, targetTrialMs: 1, maxIterations: 3 };

let gpu: Gpu;
let peers: Contender[];
const uncaptured: string[] = [];

beforeAll(async () => {
  gpu = await requestGpu();
  gpu.device.addEventListener('uncapturederror', (event) => uncaptured.push((event as GPUUncapturedErrorEvent).error.message));
  peers = await loadPeers(gpu, { ortWasm: ortWasmUrl });
});

afterAll(async () => {
  for (const peer of peers ?? []) await peer.dispose();
  gpu?.destroy();
  expect(uncaptured).toEqual([]);
});

describe('peers on one shared device', () => {
  it('loads TensorFlow.js and ONNX Runtime Web with their versions', () => {
    expect(peers.map((p) => p.name)).toEqual(['TensorFlow.js 4.22.0 (webgpu backend)', 'ONNX Runtime Web 1.30.0 (WebGPU EP)']);
    expect(PEER_CASES.filter(tfjsSupports)).toHaveLength(6);
    expect(PEER_CASES.filter(ortSupports)).toEqual([{ mode: 'inference', layout: 'NCHW' }]);
  });

  it('runs every case of every library, each output within the float64 reference tolerance', async () => {
    const inputs = new ShapeInputs(SHAPE, 1);
    const tensorsBefore = tf.memory().numTensors;
    const comparisons: PeerComparison[] = [];
    for (const peerCase of PEER_CASES) comparisons.push(await comparePeerCase(gpu, SETTINGS, inputs.data(peerCase), ourContender(gpu), peers));
    for (const c of comparisons) {
      const label = caseLabel(c);
      for (const t of [c.ours, ...c.peers]) {
        expect(t.error, `${label} ${t.library}`).toBeUndefined();
        expect(t.passed, `${label} ${t.library}: ${t.worstOutput} at ${t.worstRatio}x its tolerance`).toBe(true);
        expect(t.worstRatio).toBeLessThanOrEqual(1);
        expect(t.ms, `${label} ${t.library}`).toBeGreaterThan(0);
        expect(t.code).not.toBe('');
      }
      expect(c.peers.map((p) => p.library)).toEqual(peers.filter((p) => p.supports(c)).map((p) => p.name));
      expect(c.bestPeer).not.toBeNull();
      expect(c.ratio).toBeGreaterThan(0);
    }
    // forward+backward checks the gradients too.
    expect(comparisons.filter((c) => c.mode === 'forward+backward').every((c) => c.peers.every((p) => ['y', 'dx', 'dweight', 'dbias'].includes(p.worstOutput)))).toBe(true);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('reports a library whose output is wrong as failed, timed but never the best peer', async () => {
    const data = new ShapeInputs(SHAPE, 2).data({ mode: 'inference', layout: 'NCHW' });
    const ours = ourContender(gpu);
    // Our forward with the wrong bias: runs and times like a real library, y off by 0.5.
    const wrong: Contender = {
      name: 'wrong bias',
      supports: () => true,
      prepare: (d) => ours.prepare({ ...d, bias: d.bias.map((b) => b + 0.5) }),
      dispose() {},
    };
    const result = await measureContender(gpu, SETTINGS, wrong, data, caseReference(data));
    expect(result).toMatchObject({ library: 'wrong bias', passed: false, worstOutput: 'y' });
    expect(result.worstRatio).toBeGreaterThan(1);
    expect(result.ms).toBeGreaterThan(0);
    const comparison = await comparePeerCase(gpu, SETTINGS, data, ours, [wrong]);
    expect(comparison.bestPeer).toBeNull();
    expect(comparison.ratio).toBeNull();

    const broken: Contender = { name: 'broken', supports: () => true, prepare: () => Promise.reject(new Error('no such kernel')), dispose() {} };
    expect(await measureContender(gpu, SETTINGS, broken, data, caseReference(data))).toMatchObject({ passed: false, ms: null, error: 'no such kernel' });
  });
});
