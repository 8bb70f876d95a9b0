// The peer comparison's logic without a GPU: which peer is the best (the fastest that passed its check),
// the ratio ours / best, the table and CSV columns that show it, the NHWC inputs, the check of a library's
// outputs against the float64 reference, and the ONNX model's encoding of initializers and attributes.
import { describe, expect, it } from 'vitest';
import type { BenchmarkReport, BenchmarkRow } from '../../bench/benchmark.js';
import { onnxModel } from '../../bench/onnx-model.js';
import { caseReference, checkCase, ShapeInputs, toNhwc } from '../../bench/peer-harness.js';
import { caseKey, caseLabel, comparePeers, findComparison, PEER_CASES, type PeerCase, type PeerComparison, type PeerTiming } from '../../bench/peers.js';
import { formatPeers, formatSummary, ratioCell, reportToCsv, timingCell } from '../../bench/report-format.js';
import { sampleReport, sampleRow } from '../support/bench-report.js';

const timing = (library: string, ms: number | null, passed = true, error?: string): PeerTiming => ({
  library,
  code: `${library} code`,
  ms,
  iterations: ms === null ? 0 : 10,
  passed,
  worstRatio: passed ? 0.1 : 3,
  worstOutput: 'y',
  ...(error ? { error } : {}),
});
const TFJS = 'TensorFlow.js 4.22.0 (webgpu backend)';
const ORT = 'ONNX Runtime Web 1.30.0 (WebGPU EP)';
const OURS = 'webgpu-batchnorm';
const inferenceNchw: PeerCase = { mode: 'inference', layout: 'NCHW' };

describe('comparePeers', () => {
  it('divides our time by the fastest peer that passed', () => {
    const c = comparePeers(inferenceNchw, timing(OURS, 2), [timing(TFJS, 4), timing(ORT, 5)]);
    expect(c.bestPeer).toBe(TFJS);
    expect(c.ratio).toBe(0.5);
    expect(c.mode).toBe('inference');
    expect(c.layout).toBe('NCHW');
  });

  it("keeps only the case's mode and layout, not the inputs it may be handed with (the JSON stays small)", () => {
    const data = new ShapeInputs([2, 3, 2, 2], 1).data(inferenceNchw);
    const c = comparePeers(data, timing(OURS, 2), [timing(TFJS, 4)]);
    expect(Object.keys(c).sort()).toEqual(['bestPeer', 'layout', 'mode', 'ours', 'peers', 'ratio']);
  });

  it('never takes a peer with wrong output or an error as the best, but keeps it in the list', () => {
    const wrong = timing(TFJS, 1, false);
    const broken = timing('Other', null, false, 'no adapter');
    const c = comparePeers(inferenceNchw, timing(OURS, 2), [wrong, broken, timing(ORT, 8)]);
    expect(c.bestPeer).toBe(ORT);
    expect(c.ratio).toBe(0.25);
    expect(c.peers).toEqual([wrong, broken, timing(ORT, 8)]);
  });

  it('has no ratio without a passing peer, or when ours failed', () => {
    expect(comparePeers(inferenceNchw, timing(OURS, 2), [timing(TFJS, 1, false)])).toMatchObject({ bestPeer: null, ratio: null });
    expect(comparePeers(inferenceNchw, timing(OURS, 2), [])).toMatchObject({ bestPeer: null, ratio: null });
    expect(comparePeers(inferenceNchw, timing(OURS, 2, false), [timing(TFJS, 1)])).toMatchObject({ bestPeer: TFJS, ratio: null });
  });

  it('names the six cases for tables and CSV columns', () => {
    expect(PEER_CASES.map(caseLabel)).toEqual(['train NCHW', 'train NHWC', 'infer NCHW', 'infer NHWC', 'fwd+bwd NCHW', 'fwd+bwd NHWC']);
    expect(PEER_CASES.map(caseKey)).toEqual([
      'training_nchw',
      'training_nhwc',
      'inference_nchw',
      'inference_nhwc',
      'forward_backward_nchw',
      'forward_backward_nhwc',
    ]);
  });
});

describe('peer cells, tables and CSV', () => {
  const comparisons: PeerComparison[] = PEER_CASES.map((c, i) =>
    c.mode === 'inference' && c.layout === 'NCHW'
      ? comparePeers(c, timing(OURS, 1), [timing(TFJS, 4), timing(ORT, 3, false)])
      : comparePeers(c, timing(OURS, i + 1), [timing(TFJS, 2)]),
  );
  const row = (peers?: readonly PeerComparison[]): BenchmarkRow => sampleRow(peers ? { peers } : {});
  const report = (rows: BenchmarkRow[], withPeers: boolean): BenchmarkReport => sampleReport(rows, withPeers ? { libraries: [OURS, TFJS, ORT] } : {});

  it('shows a ratio with the peer it is against, or why there is none', () => {
    expect(ratioCell(findComparison(comparisons, inferenceNchw))).toBe('0.25 tfjs');
    expect(ratioCell(undefined)).toBe('-');
    expect(ratioCell(comparePeers(inferenceNchw, timing(OURS, 1), [timing(TFJS, 1, false)]))).toBe('peers failed');
    expect(ratioCell(comparePeers(inferenceNchw, timing(OURS, 1), []))).toBe('no peer');
    expect(ratioCell(comparePeers(inferenceNchw, timing(OURS, 1, false), [timing(TFJS, 1)]))).toBe('ours failed');
    expect(timingCell(timing(ORT, 3, false))).toBe('3 FAIL');
    expect(timingCell(timing(ORT, null, false, 'boom'))).toBe('error');
    expect(timingCell(undefined)).toBe('-');
  });

  it('prints one ratio column per case and one time column per library, and names each failure', () => {
    const lines = formatPeers(report([row(comparisons)], true));
    const header = lines.find((l) => l.startsWith('shape') && l.includes('train NCHW'))!;
    for (const c of PEER_CASES) expect(header).toContain(caseLabel(c));
    const ratioLine = lines[lines.indexOf(header) + 2]!;
    // train NCHW: 1 / 2; infer NCHW: 1 / 4 (ORT was faster but wrong); fwd+bwd NHWC: 6 / 2.
    expect(ratioLine.split(/\s{2,}/)).toEqual(['2x8x8x8', '0.5 tfjs', '1 tfjs', '0.25 tfjs', '2 tfjs', '2.5 tfjs', '3 tfjs']);
    expect(lines.some((l) => l.startsWith('shape') && l.includes('ours ms') && l.includes('tfjs ms') && l.includes('ORT ms'))).toBe(true);
    expect(lines.some((l) => /infer NCHW\s+1\s+4\s+3 FAIL$/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes(`2x8x8x8 infer NCHW, ${ORT}: y off by 3x its tolerance`))).toBe(true);
    expect(formatSummary(report([row(comparisons)], true))).toContain('peers: webgpu-batchnorm, TensorFlow.js');
  });

  it('has ratio columns in the CSV, empty without peers, with the check column still last', () => {
    const [head, withPeers] = reportToCsv([row(comparisons)]).trim().split('\n');
    const columns = head!.split(',');
    const cells = withPeers!.split(',');
    expect(columns.at(-1)).toBe('passed');
    for (const c of PEER_CASES) expect(columns).toContain(`peer_ratio_${caseKey(c)}`);
    expect(cells[columns.indexOf('peer_ratio_inference_nchw')]).toBe('0.25');
    const [, without] = reportToCsv([row()]).trim().split('\n');
    expect(without!.split(',')[columns.indexOf('peer_ratio_training_nchw')]).toBe('');
    expect(formatPeers(report([row()], false))).toEqual([]);
    expect(formatSummary(report([row()], false))).not.toContain('peers:');
  });
});

describe('peer inputs and checks', () => {
  it('transposes NCHW to NHWC', () => {
    const nchw = Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => i); // N=2, C=3, S=2
    // n=0: c0 [0,1], c1 [2,3], c2 [4,5] -> s0 [0,2,4], s1 [1,3,5]
    expect([...toNhwc(nchw, 2, 3, 2)]).toEqual([0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11]);
  });

  it('gives the same values in both layouts, with parameters away from (1, 0, 0, 1)', () => {
    const inputs = new ShapeInputs([2, 3, 2, 2], 7);
    const nchw = inputs.data({ mode: 'training', layout: 'NCHW' });
    const nhwc = inputs.data({ mode: 'training', layout: 'NHWC' });
    expect(nchw.dims).toEqual([2, 3, 2, 2]);
    expect(nhwc.dims).toEqual([2, 2, 2, 3]);
    expect(nhwc.axis).toBe(-1);
    expect([...nhwc.x]).toEqual([...toNhwc(nchw.x, 2, 3, 4)]);
    expect([...nhwc.weight]).toEqual([...nchw.weight]);
    expect(nchw.weight.some((w) => w !== 1)).toBe(true);
    expect(nchw.runningVar.some((v) => v !== 1)).toBe(true);
  });

  it('passes the reference rounded to float32 and fails an output one channel off, in each mode and layout', () => {
    const inputs = new ShapeInputs([3, 4, 2, 3], 11);
    for (const peerCase of PEER_CASES) {
      const data = inputs.data(peerCase);
      const reference = caseReference(data);
      const outputs =
        peerCase.mode === 'forward+backward'
          ? (() => {
              // The float64 backward as the exact answer, fed the float64 statistics.
              const y = Float32Array.from(reference.y);
              return { y, ...exactBackward(data, reference) };
            })()
          : { y: Float32Array.from(reference.y) };
      expect(checkCase(data, reference, outputs), caseLabel(peerCase)).toMatchObject({ passed: true });
      const wrong = Float32Array.from(reference.y);
      wrong[1] = wrong[1]! + 1e-3;
      expect(checkCase(data, reference, { ...outputs, y: wrong }), caseLabel(peerCase)).toMatchObject({ passed: false, worstOutput: 'y' });
    }
  });
});

/** dx, dweight and dbias from the float64 backward of the reference's statistics. */
function exactBackward(data: ReturnType<ShapeInputs['data']>, reference: ReturnType<typeof caseReference>) {
  const { dy, x, dims, axis, weight } = data;
  const channels = data.channels;
  const stride = axis === 1 ? dims.slice(2).reduce((a, b) => a * b, 1) : 1;
  const channelOf = (i: number) => (axis === 1 ? Math.floor(i / stride) % channels : i % channels);
  const count = x.length / channels;
  const sumDy = new Float64Array(channels);
  const sumDyXhat = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i);
    sumDy[c]! += dy[i]!;
    sumDyXhat[c]! += dy[i]! * (x[i]! - reference.saveMean[c]!) * reference.saveInvstd[c]!;
  }
  const dx = Float32Array.from(x, (v, i) => {
    const c = channelOf(i);
    const xhat = (v - reference.saveMean[c]!) * reference.saveInvstd[c]!;
    return weight[c]! * reference.saveInvstd[c]! * (dy[i]! - sumDy[c]! / count - (xhat * sumDyXhat[c]!) / count);
  });
  return { dx, dweight: Float32Array.from(sumDyXhat), dbias: Float32Array.from(sumDy) };
}

describe('onnxModel', () => {
  it('encodes initializers (raw float32) and float attributes', () => {
    const values = new Float32Array([1.5, -2]);
    const bytes = onnxModel({
      nodes: [{ op: 'BatchNormalization', inputs: ['X', 's'], outputs: ['Y'], floatAttributes: { epsilon: 1e-5 } }],
      inputs: [{ name: 'X', dims: [1, 2] }],
      outputs: [{ name: 'Y', dims: [1, 2] }],
      initializers: [{ name: 's', dims: [2], values }],
    });
    const contains = (needle: readonly number[]) => bytes.some((_, i) => needle.every((b, j) => bytes[i + j] === b));
    // AttributeProto: name "epsilon" (field 1), f (field 2, fixed32) = 1e-5, type (field 20) = FLOAT.
    const epsilon = [...new TextEncoder().encode('epsilon')];
    expect(contains([0x0a, epsilon.length, ...epsilon, 0x15, ...new Uint8Array(new Float32Array([1e-5]).buffer), 0xa0, 0x01, 0x01])).toBe(true);
    // TensorProto: dims 2, data_type FLOAT, name "s", raw_data of 8 bytes.
    expect(contains([0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 0x73, 0x4a, 0x08, ...new Uint8Array(values.buffer)])).toBe(true);
    expect(() => onnxModel({ nodes: [], inputs: [], outputs: [], initializers: [{ name: 'bad', dims: [3], values }] })).toThrow(/dims \[3\] hold 3 values, got 2/);
  });
});
