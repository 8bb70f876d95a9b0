// What a library in the peer comparison provides (ours in peer-harness.ts, TensorFlow.js in peer-tfjs.ts,
// ONNX Runtime Web in peer-ort.ts), and the case data and outputs they exchange with the harness.
import type { PeerCase } from './peers.js';

/** One case's inputs on the host, in the case's layout. */
export interface PeerCaseData extends PeerCase {
  /** Dimensions in memory order: [N, C, H, W] (NCHW) or [N, H, W, C] (NHWC). */
  readonly dims: readonly number[];
  readonly channels: number;
  /** The channel axis of `dims`: 1 or -1. */
  readonly axis: 1 | -1;
  readonly x: Float32Array;
  /** The upstream gradient (forward+backward). */
  readonly dy: Float32Array;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** Read by inference (ours also blends a training forward's batch statistics into copies of them). */
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
  readonly eps: number;
}

/** One call's outputs, read back for the check. */
export interface PeerOutputs {
  readonly y: ArrayLike<number>;
  /** forward+backward: the gradients. */
  readonly dx?: ArrayLike<number>;
  readonly dweight?: ArrayLike<number>;
  readonly dbias?: ArrayLike<number>;
  /**
   * forward+backward: the batch statistics the library normalized with (float32, as it computed them), which
   * the float64 backward is fed (src/reference/tolerances.ts explains why); absent: the float64 ones.
   */
  readonly mean?: Float32Array | Float64Array;
  readonly invstd?: Float32Array | Float64Array;
}

/** A case set up on the device by one library. */
export interface PreparedPeerCase {
  /** What is timed, as that library's users write it. */
  readonly code: string;
  /** One call, its outputs disposed (or written in place); a promise is awaited before the next call. */
  run(): unknown;
  /** Submits work the library has recorded but not yet submitted. */
  flush(): void;
  /** One call whose outputs are read back. */
  outputs(): Promise<PeerOutputs>;
  /** Frees what `prepare` made; throws if the library leaked memory while timing. */
  dispose(): void | Promise<void>;
}

/** A library in the comparison. */
export interface Contender {
  /** Name and version, e.g. "TensorFlow.js 4.22.0 (webgpu backend)". */
  readonly name: string;
  supports(peerCase: PeerCase): boolean;
  prepare(data: PeerCaseData): Promise<PreparedPeerCase>;
  dispose(): void | Promise<void>;
}
