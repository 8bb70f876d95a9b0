// Peers: the same batch norm written with other WebGPU libraries, timed against ours on one shared
// GPUDevice by one method, each checked against the float64 reference. This module is the pure part
// (cases, results, the ratio to the best peer); bench/peer-harness.ts sets the cases up and times
// them, bench/peer-tfjs.ts and bench/peer-ort.ts are the libraries (imported dynamically, so
// nothing loads them unless a benchmark with peers runs).
//
// Cases, per shape: three modes in two layouts.
//   training          ours: batchNorm(training) | TensorFlow.js: tf.moments + tf.batchNorm
//   inference         ours: batchNorm(running statistics) | TensorFlow.js: tf.batchNorm | ONNX Runtime
//                     Web: a one-node BatchNormalization model (NCHW only: ONNX's layout)
//   forward+backward  ours: batchNorm + batchNormBackward | TensorFlow.js: tf.grads over its training forward
// NCHW is PyTorch's layout (ours: axis 1); NHWC is TensorFlow.js's own (ours: axis -1).

export type PeerMode = 'training' | 'inference' | 'forward+backward';
export type PeerLayout = 'NCHW' | 'NHWC';

export interface PeerCase {
  readonly mode: PeerMode;
  readonly layout: PeerLayout;
}

export const PEER_CASES: readonly PeerCase[] = [
  { mode: 'training', layout: 'NCHW' },
  { mode: 'training', layout: 'NHWC' },
  { mode: 'inference', layout: 'NCHW' },
  { mode: 'inference', layout: 'NHWC' },
  { mode: 'forward+backward', layout: 'NCHW' },
  { mode: 'forward+backward', layout: 'NHWC' },
];

/** TensorFlow.js runs every case: NCHW as its users write it, and its own NHWC. */
export const tfjsSupports = (_peerCase: PeerCase): boolean => true;
/** ONNX Runtime Web: inference only (ONNX's BatchNormalization), in ONNX's NCHW. */
export const ortSupports = ({ mode, layout }: PeerCase): boolean => mode === 'inference' && layout === 'NCHW';

/** Short names for tables and chart legends: "train NCHW", "fwd+bwd NHWC". */
export function caseLabel({ mode, layout }: PeerCase): string {
  const short = { training: 'train', inference: 'infer', 'forward+backward': 'fwd+bwd' } as const;
  return `${short[mode]} ${layout}`;
}

/** A machine-readable key for CSV columns: "training_nchw", "forward_backward_nhwc". */
export function caseKey({ mode, layout }: PeerCase): string {
  return `${mode.replace('+', '_')}_${layout.toLowerCase()}`;
}

/** One library's result for one case. */
export interface PeerTiming {
  /** The library and its version, e.g. "TensorFlow.js 4.22.0 (webgpu backend)". */
  readonly library: string;
  /** What is timed, as the library's users write it. */
  readonly code: string;
  /** Median wall-clock ms per call; null when the case could not run. */
  readonly ms: number | null;
  /** Calls per timed trial. */
  readonly iterations: number;
  /** Every output (y; dx, dweight and dbias for forward+backward) within the float64 reference's tolerance. */
  readonly passed: boolean;
  /**
   * The worst output's largest error as a fraction of its tolerance (<= 1 passes), and which output it was;
   * Infinity (null in JSON) where the case did not run.
   */
  readonly worstRatio: number;
  readonly worstOutput: string;
  /** Why the case failed to set up, run or check (an exception or a GPU error). */
  readonly error?: string;
}

export interface PeerComparison extends PeerCase {
  /** webgpu-batchnorm timed by the same method. */
  readonly ours: PeerTiming;
  readonly peers: readonly PeerTiming[];
  /** The fastest peer that passed its check; null when none did. */
  readonly bestPeer: string | null;
  /** ours.ms / bestPeer's ms: below 1 webgpu-batchnorm is faster. Null without a timed, passing peer (or ours). */
  readonly ratio: number | null;
}

/** A timed result that counts: it ran and passed its check. */
function counts(timing: PeerTiming): timing is PeerTiming & { ms: number } {
  return timing.passed && timing.ms !== null && Number.isFinite(timing.ms) && timing.ms > 0;
}

/**
 * The comparison of one case: the best peer is the fastest that passed its check (a peer whose output
 * is wrong, or that threw, stays in `peers`, marked, but is never the reference point).
 */
export function comparePeers(peerCase: PeerCase, ours: PeerTiming, peers: readonly PeerTiming[]): PeerComparison {
  let best: (PeerTiming & { ms: number }) | null = null;
  for (const peer of peers) if (counts(peer) && (!best || peer.ms < best.ms)) best = peer;
  const ratio = best && counts(ours) ? ours.ms / best.ms : null;
  // Only the case's mode and layout: `peerCase` may be a whole case with its input arrays.
  return { mode: peerCase.mode, layout: peerCase.layout, ours, peers, bestPeer: best?.library ?? null, ratio };
}

/** The comparison of `peerCase` in a row's list, if it was measured. */
export function findComparison(comparisons: readonly PeerComparison[] | undefined, peerCase: PeerCase): PeerComparison | undefined {
  return comparisons?.find((c) => c.mode === peerCase.mode && c.layout === peerCase.layout);
}

/** A library's short name for narrow columns: the words before the version. */
export function shortLibraryName(library: string): string {
  const known: Record<string, string> = { 'webgpu-batchnorm': 'ours', 'TensorFlow.js': 'tfjs', 'ONNX Runtime Web': 'ORT' };
  for (const [prefix, short] of Object.entries(known)) if (library.startsWith(prefix)) return short;
  return library.split(' ')[0] ?? library;
}
