// A SyncGroup (src/modules/sync-group.ts) of Node.js worker threads, each
// replica a worker with its own device (e.g. requestDawnGpu from `webgpu-batchnorm/dawn`), exchanging over
// MessagePorts: one MessageChannel between every two replicas, so a collective needs no thread in the
// middle; the `webgpu-batchnorm/node` entry (src/node.ts). Its declarations refer to Node's worker_threads types, not to WebGPU's: they reference
// @types/node themselves (TypeScript 7 includes no @types package a program does not name).
/// <reference types="node" preserve="true" />
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describeValue } from '../runtime/options.js';
import { missingRanks, mismatch, readTimeout, startTimer, sumInRankOrder, type SyncGroup, type SyncGroupOptions } from '../modules/sync-group.js';

/**
 * What one worker needs to join the group.
 *
 * Pass it as (part of) the Worker's `workerData`, and its `ports` in the Worker's `transferList` (a
 * MessagePort must be transferred, not copied).
 */
export interface WorkerGroupEndpoint {
  /** The worker's rank in the group. */
  readonly rank: number;
  /** The number of replicas. */
  readonly size: number;
  /** One port to each other replica, in the order of their ranks (this one's skipped): size - 1 ports. */
  readonly ports: readonly MessagePort[];
  /** createWorkerGroup's timeout in milliseconds (default 5 minutes); see {@link SyncGroupOptions}. */
  readonly timeoutMs?: number;
}

/** A joined group: a {@link SyncGroup}, and close() to let the worker's thread end. */
export interface WorkerGroup extends SyncGroup {
  /**
   * Closes this replica's ports: collectives still waiting reject, and so do the other replicas' waiting
   * on this one. Call it when the worker is done, before `await gpu.destroy()` and the end of the thread
   * (docs/sync-batch-norm.md, "Ending a worker"). Idempotent.
   */
  close(): void;
}

/** What one replica sends another: its data at a collective, or the reason it aborted the group. */
type Message =
  | { readonly step: number; readonly collective: Collective; readonly data: Float32Array }
  | { readonly abort: string };

type Collective = 'allGather' | 'allReduceSum';

/**
 * The endpoints of a group of `size` workers (endpoint r for the worker of rank r).
 *
 * Made in the thread that starts them: one MessageChannel between every two replicas.
 *
 * @example
 * ```ts
 * import { Worker } from 'node:worker_threads';
 * import { createWorkerGroup } from 'webgpu-batchnorm/node';
 *
 * const script = new URL('./replica.js', import.meta.url); // each calls joinWorkerGroup(workerData)
 * const endpoints = createWorkerGroup(2);
 * const workers = endpoints.map((endpoint) => new Worker(script, { workerData: endpoint, transferList: [...endpoint.ports] }));
 * ```
 *
 * @param size - The number of replicas, an integer >= 1.
 * @param options - The timeout every replica takes; see {@link SyncGroupOptions}.
 */
export function createWorkerGroup(size: number, options: SyncGroupOptions = {}): WorkerGroupEndpoint[] {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) throw new RangeError(`createWorkerGroup(size): size must be an integer >= 1, got ${describeValue(size)}`);
  const timeoutMs = readTimeout(options, 'createWorkerGroup');
  const ports: MessagePort[][] = Array.from({ length: size }, () => []);
  for (let a = 0; a < size; a++) {
    for (let b = a + 1; b < size; b++) {
      const { port1, port2 } = new MessageChannel();
      ports[a]!.push(port1); // a's port to b: peers in rank order, b > a comes after every lower one
      ports[b]!.push(port2);
    }
  }
  // Each replica's ports are in the order of its peers' ranks: lower ranks' ports were pushed first.
  return ports.map((own, rank) => ({ rank, size, ports: own, timeoutMs }));
}

/**
 * Joins the group in a worker: the {@link SyncGroup} to pass to SyncBatchNorm.
 *
 * Collectives resolve once
 * every replica has made the same call; allReduceSum adds in rank order in float64 and rounds once, so
 * every replica gets the same sum. A collective that waits longer than the timeout, or a call that differs
 * from a peer's at the same step, aborts the group: its waiting and later calls reject, here and (told
 * through the ports) on every peer. Between collectives the ports do not keep the thread alive; call
 * {@link WorkerGroup.close} when done.
 *
 * @param endpoint - This worker's endpoint from {@link createWorkerGroup} (its `workerData`, with the group's timeout).
 */
export function joinWorkerGroup(endpoint: WorkerGroupEndpoint): WorkerGroup {
  const what = 'joinWorkerGroup(endpoint)';
  const e = endpoint as Partial<WorkerGroupEndpoint> | null;
  const hint = ' (pass createWorkerGroup(size)[rank] in the Worker\'s workerData, and its ports in transferList)';
  if (e === null || typeof e !== 'object') throw new TypeError(`${what} takes an endpoint { rank, size, ports }, got ${describeValue(endpoint)}${hint}`);
  const { rank, size, ports } = e;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) throw new RangeError(`${what}: size must be an integer >= 1, got ${describeValue(size)}${hint}`);
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0 || rank >= size) throw new RangeError(`${what}: rank must be in [0, ${size - 1}], got ${describeValue(rank)}${hint}`);
  if (!Array.isArray(ports) || ports.length !== size - 1 || !ports.every((p) => typeof (p as Partial<MessagePort>)?.postMessage === 'function')) {
    throw new TypeError(`${what}: ports must be ${size - 1} MessagePorts, got ${describeValue(ports)}${hint}`);
  }
  const timeoutMs = readTimeout({ timeoutMs: e.timeoutMs }, 'joinWorkerGroup(endpoint)');
  const peers = Array.from({ length: size }, (_, r) => r).filter((r) => r !== rank);
  type Data = Extract<Message, { step: number }>;
  // Messages that arrived before this replica made the call, per peer and step.
  const inbox = peers.map(() => new Map<number, Data>());
  const pending = new Map<number, { collective: Collective; data: Float32Array; resolve: (parts: Float32Array[]) => void; reject: (error: Error) => void; stopTimer: () => void }>();
  let step = 0;
  let aborted: Error | null = null; // this replica closed or aborted its group: every later call rejects
  const peerClosed: (Error | null)[] = peers.map(() => null); // a peer's port closed: calls that still need its data cannot finish

  const keepAlive = (alive: boolean) => {
    for (const port of ports) {
      if (alive) port.ref();
      else port.unref();
    }
  };
  const reject = (s: number, error: Error) => {
    const call = pending.get(s);
    if (!call) return;
    pending.delete(s);
    call.stopTimer();
    call.reject(error);
    if (pending.size === 0) keepAlive(false);
  };
  /** Rejects every waiting call with `reason` and every later one; `tell` sends the peers the reason. */
  const abort = (reason: Error, tell: boolean) => {
    if (aborted) return;
    aborted = new Error(`worker group: the group was aborted (${reason.message}); make a new group`);
    for (const s of [...pending.keys()]) reject(s, reason);
    for (const messages of inbox) messages.clear(); // a late message is never read by a later call
    if (tell) for (const port of ports) port.postMessage({ abort: reason.message } satisfies Message);
  };
  const settle = (s: number) => {
    const call = pending.get(s);
    if (!call || !inbox.every((messages) => messages.has(s))) return;
    const parts = new Array<Float32Array>(size);
    parts[rank] = call.data;
    for (let i = 0; i < peers.length; i++) {
      const message = inbox[i]!.get(s)!;
      inbox[i]!.delete(s);
      const failure = mismatch('worker group', s, rank, call.collective, call.data.length, peers[i]!, message.collective, message.data.length);
      if (failure) return abort(failure, true); // the calls after it would be out of step too
      parts[peers[i]!] = message.data;
    }
    pending.delete(s);
    call.stopTimer();
    if (pending.size === 0) keepAlive(false);
    call.resolve(parts);
  };
  ports.forEach((port, i) => {
    port.on('message', (message: Message) => {
      if ('abort' in message) return abort(new Error(`rank ${peers[i]} aborted the group: ${message.abort}`), false);
      if (aborted) return;
      inbox[i]!.set(message.step, message);
      settle(message.step);
    });
    port.on('close', () => {
      const error = (peerClosed[i] ??= aborted ?? new Error(`worker group: the port from rank ${rank} to rank ${peers[i]} closed (that worker closed its group or ended)`));
      // The peer may have sent its part of a call and then closed (its last collective done): only a call
      // still waiting for its data can never finish, and then neither can any later step: the group is
      // aborted, and the peers told why (they may be waiting for this replica's part, or learn of the
      // close only from this replica's ports closing later).
      if ([...pending.keys()].some((s) => !inbox[i]!.has(s))) abort(error, true);
    });
  });
  keepAlive(false);

  const join = (collective: Collective, data: unknown): Promise<Float32Array[]> => {
    if (!(data instanceof Float32Array)) return Promise.reject(new TypeError(`${collective} takes a Float32Array, got ${describeValue(data)}`));
    if (aborted) return Promise.reject(aborted);
    const closed = peerClosed.find((e) => e !== null);
    if (closed) {
      // No step can finish without that peer: the others, who may be waiting for this replica's part,
      // learn why from here rather than from this replica's ports closing later.
      abort(closed, true);
      return Promise.reject(closed);
    }
    const s = step++;
    const own = data.slice(); // the caller may reuse its array
    return new Promise((resolve, reject) => {
      const stopTimer = startTimer(timeoutMs, () => {
        const missing = missingRanks(size, (r) => r === rank || inbox[peers.indexOf(r)]!.has(s));
        abort(new Error(`worker group: collective #${s} (${collective}) timed out after ${timeoutMs} ms on rank ${rank}: rank(s) ${missing} never arrived`), true);
      });
      pending.set(s, { collective, data: own, resolve, reject, stopTimer });
      keepAlive(true);
      for (const port of ports) port.postMessage({ step: s, collective, data: own } satisfies Message);
      settle(s);
    });
  };
  return {
    rank,
    size,
    allGather: async (data) => (await join('allGather', data)).map((part, r) => (r === rank ? part.slice() : part)),
    allReduceSum: async (data) => sumInRankOrder(await join('allReduceSum', data)),
    close: () => {
      abort(new Error(`worker group: rank ${rank} closed its group`), false);
      for (const port of ports) port.close();
    },
  };
}
