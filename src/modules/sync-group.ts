// The process group SyncBatchNorm exchanges statistics through, as torch.distributed's process group is to
// PyTorch's SyncBatchNorm: an interface (a rank, a size and two collectives) that any transport can
// implement, the checks the module applies to a group and to what its collectives answer, and one
// transport: replicas in one process (several Gpus), exchanging through shared promises. No declaration
// here refers to WebGPU: the worker_threads group (src/platforms/worker-group.ts) builds on it alone.
import { describeValue, readOptions } from '../runtime/options.js';

/**
 * A process group of replicas, as torch.distributed's is to SyncBatchNorm.
 *
 * This replica's `rank` among `size`, and two collectives. Every replica calls the same collectives in the same order, and each call
 * resolves once every replica has made it. A collective that cannot complete (a peer gone, a timeout,
 * calls that differ) must reject on every waiting replica, never stay pending, and the group should then
 * refuse every later call; give each collective a timeout (docs/sync-batch-norm.md, "The contract"). Any object of this shape works:
 * {@link createLocalGroup}'s (replicas in one process), `webgpu-batchnorm/node`'s `joinWorkerGroup`
 * (worker_threads), or your own over WebSockets, WebRTC or anything else (docs/sync-batch-norm.md).
 */
export interface SyncGroup {
  /** This replica's index: an integer, 0 <= rank < size. */
  readonly rank: number;
  /** The number of replicas: an integer >= 1. */
  readonly size: number;
  /**
   * Resolves with every replica's `data` in rank order (this replica's own at index `rank`): `size`
   * Float32Arrays. SyncBatchNorm's training forward sends a 6-value header (status and configuration), then
   * 2C + 1 values (mean, variance, count); the lengths differ only between misconfigured replicas.
   */
  allGather(data: Float32Array): Promise<Float32Array[]>;
  /**
   * Resolves with the elementwise sum of every replica's `data`, the same array (bit for bit) on every
   * replica. SyncBatchNorm's backward sends size + 2C values (a status slot per replica, sum(dy),
   * sum(dy*(x - mean))).
   */
  allReduceSum(data: Float32Array): Promise<Float32Array>;
}

/** Checks that `group` has SyncGroup's shape; `what` names it in messages. */
export function assertSyncGroup(group: unknown, what: string): asserts group is SyncGroup {
  if (group === null || typeof group !== 'object') {
    throw new TypeError(`${what} must be a group { rank, size, allGather, allReduceSum } (createLocalGroup, joinWorkerGroup or your own), got ${describeValue(group)}`);
  }
  const g = group as Partial<Record<keyof SyncGroup, unknown>>;
  const { rank, size } = g;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) throw new RangeError(`${what}.size must be an integer >= 1, got ${describeValue(size)}`);
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0 || rank >= size) {
    throw new RangeError(`${what}.rank must be an integer in [0, ${size - 1}] (size ${size}), got ${describeValue(rank)}`);
  }
  for (const method of ['allGather', 'allReduceSum'] as const) {
    if (typeof g[method] !== 'function') throw new TypeError(`${what}.${method} must be a function, got ${describeValue(g[method])}`);
  }
}

/**
 * `group.allGather(data)`, its answer checked: `size` Float32Arrays, this replica's own data (bit for bit)
 * at index `rank`. The others' lengths are the caller's to check (SyncBatchNorm reads who sent what first).
 * `what` names the exchange in messages.
 */
export async function checkedAllGather(group: SyncGroup, data: Float32Array, what: string): Promise<Float32Array[]> {
  const answer: unknown = await group.allGather(data);
  if (!Array.isArray(answer) || answer.length !== group.size) {
    throw new TypeError(`${what}: group.allGather must resolve with ${group.size} Float32Arrays (one per replica), got ${describeValue(answer)}`);
  }
  answer.forEach((part: unknown, rank) => {
    if (!(part instanceof Float32Array)) throw new TypeError(`${what}: group.allGather's array ${rank} must be a Float32Array, got ${describeValue(part)}`);
  });
  const own = answer[group.rank] as Float32Array;
  const sent = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const received = new Uint32Array(own.buffer, own.byteOffset, own.length);
  if (own.length !== data.length || sent.some((bits, i) => bits !== received[i])) {
    throw new Error(`${what}: group.allGather's array ${group.rank} (this replica's rank) is not the data this replica sent: the answer must be in rank order`);
  }
  return answer as Float32Array[];
}

/** `group.allReduceSum(data)`, its answer checked: a Float32Array of data's length. */
export async function checkedAllReduceSum(group: SyncGroup, data: Float32Array, what: string): Promise<Float32Array> {
  const answer: unknown = await group.allReduceSum(data);
  if (!(answer instanceof Float32Array) || answer.length !== data.length) {
    throw new TypeError(`${what}: group.allReduceSum must resolve with a Float32Array of ${data.length} values, got ${describeValue(answer)}${answer instanceof Float32Array ? ` of ${answer.length}` : ''}`);
  }
  return answer;
}

type Collective = 'allGather' | 'allReduceSum';

/** How long a collective may wait for the last replica before the group is aborted, by default: 5 minutes. */
export const DEFAULT_SYNC_TIMEOUT_MS = 300_000;

/** Options of {@link createLocalGroup} (and of `webgpu-batchnorm/node`'s worker group). */
export interface SyncGroupOptions {
  /**
   * Milliseconds a collective may wait for every replica, counted from this replica's call: past it, the
   * collective rejects on every waiting replica, naming the ranks that never arrived, and the group is
   * aborted (every later call rejects). A positive number, Infinity to wait forever; default
   * {@link DEFAULT_SYNC_TIMEOUT_MS} (5 minutes).
   */
  timeoutMs?: number;
}

/** A group of {@link createLocalGroup}: a {@link SyncGroup}, and close() to abort the group. */
export interface LocalGroup extends SyncGroup {
  /**
   * Aborts the group, for every replica: collectives still waiting reject, and so does every later one.
   * Idempotent.
   */
  close(): void;
}

/** @internal The options' timeoutMs, checked; `what` names the function in messages. */
export function readTimeout(options: unknown, what: string): number {
  const { timeoutMs = DEFAULT_SYNC_TIMEOUT_MS } = readOptions(options, `${what} options`, ['timeoutMs']);
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new RangeError(`${what} options.timeoutMs must be a positive number of milliseconds (Infinity: no timeout), got ${describeValue(timeoutMs)}`);
  return timeoutMs;
}

/** @internal Starts a timer unless `ms` is Infinity (setTimeout would fire at once past 2^31 - 1 ms). */
export function startTimer(ms: number, expire: () => void): (() => void) {
  if (ms > 0x7fffffff) return () => undefined;
  const timer = setTimeout(expire, ms);
  return () => clearTimeout(timer);
}

/** @internal The ranks in [0, size) that `arrived` lacks, for messages: "1, 3". */
export function missingRanks(size: number, arrived: (rank: number) => boolean): string {
  return Array.from({ length: size }, (_, r) => r).filter((r) => !arrived(r)).join(', ');
}

/**
 * The elementwise sum of `parts` in rank order, accumulated in float64 and rounded once to float32: every
 * replica that adds the same parts gets the same array.
 */
export function sumInRankOrder(parts: readonly Float32Array[]): Float32Array {
  const total = new Float64Array(parts[0]?.length ?? 0);
  for (const part of parts) for (let i = 0; i < total.length; i++) total[i]! += part[i]!;
  return Float32Array.from(total);
}

/** @internal A call that differs from the one another replica made at the same step: its message, or null. */
export function mismatch(what: string, step: number, rank: number, collective: Collective, length: number, other: number, otherCollective: Collective, otherLength: number): Error | null {
  // allGather's arrays may differ in length (SyncBatchNorm reads who sent what); a sum's may not.
  if (collective === otherCollective && (collective === 'allGather' || length === otherLength)) return null;
  return new Error(
    `${what}: at collective #${step}, rank ${rank} called ${collective} with ${length} values but rank ${other} called ` +
      `${otherCollective} with ${otherLength}: every replica must make the same calls in the same order`,
  );
}

/** One collective call of every replica: what each sent, and what waits for the last one. */
interface Round {
  readonly collective: Collective;
  readonly length: number;
  readonly parts: (Float32Array | undefined)[];
  arrived: number;
  readonly waiting: { resolve: (parts: Float32Array[]) => void; reject: (error: Error) => void }[];
  stopTimer: () => void;
}

/**
 * `size` groups of replicas in one process, one per replica (group i has rank i).
 *
 * For several Gpus (devices of one adapter or of several) in one program, as a multi-GPU server runs one
 * replica per device. The collectives exchange through promises the groups share; each resolves once every group
 * has made the same call, and each replica gets copies of its own. allReduceSum adds in rank order in
 * float64 and rounds once, so every replica gets the same sum. The group is aborted, and every waiting and
 * later call rejects on every replica, when a call's collective (or a sum's length) differs from another
 * replica's at the same step, when a collective waits longer than `timeoutMs` (naming the ranks that never
 * arrived), or when any replica calls close().
 *
 * @param size - The number of replicas, an integer >= 1.
 * @param options - The timeout; see {@link SyncGroupOptions}.
 */
export function createLocalGroup(size: number, options: SyncGroupOptions = {}): LocalGroup[] {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) throw new RangeError(`createLocalGroup(size): size must be an integer >= 1, got ${describeValue(size)}`);
  const timeoutMs = readTimeout(options, 'createLocalGroup');
  const rounds = new Map<number, Round>();
  let aborted: Error | null = null;
  const abort = (reason: Error) => {
    aborted ??= new Error(`createLocalGroup: the group was aborted (${reason.message}); make a new group`);
    for (const round of rounds.values()) {
      round.stopTimer();
      for (const w of round.waiting.splice(0)) w.reject(reason);
    }
    rounds.clear();
  };
  const join = (rank: number, step: number, collective: Collective, data: Float32Array): Promise<Float32Array[]> => {
    if (aborted) return Promise.reject(aborted);
    let round = rounds.get(step);
    if (!round) {
      const created: Round = { collective, length: data.length, parts: new Array(size), arrived: 0, waiting: [], stopTimer: () => undefined };
      created.stopTimer = startTimer(timeoutMs, () =>
        abort(new Error(`createLocalGroup: collective #${step} (${collective}) timed out after ${timeoutMs} ms: rank(s) ${missingRanks(size, (r) => created.parts[r] !== undefined)} never arrived`)),
      );
      rounds.set(step, (round = created));
    }
    const first = round.parts.findIndex((p) => p !== undefined);
    const failure = first >= 0 ? mismatch('createLocalGroup', step, rank, collective, data.length, first, round.collective, round.length) : null;
    if (failure) {
      abort(failure); // the calls after it would be out of step too
      return Promise.reject(failure);
    }
    round.parts[rank] = data.slice(); // the caller may reuse its array
    round.arrived++;
    const current = round;
    return new Promise((resolve, reject) => {
      current.waiting.push({ resolve, reject });
      if (current.arrived < size) return;
      rounds.delete(step);
      current.stopTimer();
      for (const w of current.waiting.splice(0)) w.resolve(current.parts as Float32Array[]);
    });
  };
  return Array.from({ length: size }, (_, rank): LocalGroup => {
    let step = 0;
    const check = (method: string, data: unknown): Float32Array => {
      if (!(data instanceof Float32Array)) throw new TypeError(`${method} takes a Float32Array, got ${describeValue(data)}`);
      return data;
    };
    return {
      rank,
      size,
      allGather: async (data) => {
        const checked = check('allGather', data); // before the step counts: a refused call takes no step
        return (await join(rank, step++, 'allGather', checked)).map((part) => part.slice());
      },
      allReduceSum: async (data) => {
        const checked = check('allReduceSum', data);
        return sumInRankOrder(await join(rank, step++, 'allReduceSum', checked));
      },
      close: () => abort(new Error(`createLocalGroup: rank ${rank} closed the group`)),
    };
  });
}
