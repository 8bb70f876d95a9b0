// A SyncGroup (src/modules/sync-group.ts) of Node.js worker threads, each
// replica a worker with its own device (e.g. requestDawnGpu from `webgpu-batchnorm/dawn`), exchanging over
// MessagePorts: one MessageChannel between every two replicas, so a collective needs no thread in the
// middle; the `webgpu-batchnorm/node` entry (src/node.ts). Its declarations refer to Node's worker_threads types, not to WebGPU's: they reference
// @types/node themselves (TypeScript 7 includes no @types package a program does not name).
/// <reference types="node" preserve="true" />
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describeValue } from '../runtime/options.js';
import { sumInRankOrder, type SyncGroup } from '../modules/sync-group.js';

/**
 * What one worker needs to join the group: pass it as (part of) the Worker's `workerData`, and its
 * `ports` in the Worker's `transferList` (a MessagePort must be transferred, not copied).
 */
export interface WorkerGroupEndpoint {
  /** The worker's rank in the group. */
  readonly rank: number;
  /** The number of replicas. */
  readonly size: number;
  /** One port to each other replica, in the order of their ranks (this one's skipped): size - 1 ports. */
  readonly ports: readonly MessagePort[];
}

/** A joined group: a {@link SyncGroup}, and close() to let the worker's thread end. */
export interface WorkerGroup extends SyncGroup {
  /**
   * Closes this replica's ports: collectives still waiting reject, and so do the other replicas' waiting
   * on this one. Call it when the worker is done (its thread can end once nothing else keeps it busy).
   */
  close(): void;
}

/** What one replica sends another at each collective. */
interface Message {
  readonly step: number;
  readonly collective: Collective;
  readonly data: Float32Array;
}

type Collective = 'allGather' | 'allReduceSum';

/**
 * The endpoints of a group of `size` workers (endpoint r for the worker of rank r), made in the thread
 * that starts them: one MessageChannel between every two replicas.
 *
 * @example
 * ```ts
 * const endpoints = createWorkerGroup(2);
 * const workers = endpoints.map((endpoint) => new Worker(script, { workerData: endpoint, transferList: [...endpoint.ports] }));
 * ```
 *
 * @param size - The number of replicas, an integer >= 1.
 */
export function createWorkerGroup(size: number): WorkerGroupEndpoint[] {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) throw new RangeError(`createWorkerGroup(size): size must be an integer >= 1, got ${describeValue(size)}`);
  const ports: MessagePort[][] = Array.from({ length: size }, () => []);
  for (let a = 0; a < size; a++) {
    for (let b = a + 1; b < size; b++) {
      const { port1, port2 } = new MessageChannel();
      ports[a]!.push(port1); // a's port to b: peers in rank order, b > a comes after every lower one
      ports[b]!.push(port2);
    }
  }
  // Each replica's ports are in the order of its peers' ranks: lower ranks' ports were pushed first.
  return ports.map((own, rank) => ({ rank, size, ports: own }));
}

/**
 * Joins the group in a worker: the {@link SyncGroup} to pass to SyncBatchNorm. Collectives resolve once
 * every replica has made the same call; allReduceSum adds in rank order in float64 and rounds once, so
 * every replica gets the same sum. Between collectives the ports do not keep the thread alive; call
 * {@link WorkerGroup.close} when done.
 *
 * @param endpoint - This worker's endpoint from {@link createWorkerGroup} (its `workerData`).
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
  const peers = Array.from({ length: size }, (_, r) => r).filter((r) => r !== rank);
  // Messages that arrived before this replica made the call, per peer and step.
  const inbox = peers.map(() => new Map<number, Message>());
  const pending = new Map<number, { collective: Collective; data: Float32Array; resolve: (parts: Float32Array[]) => void; reject: (error: Error) => void }>();
  let step = 0;
  let closed: Error | null = null; // this replica closed its group
  const peerClosed: (Error | null)[] = peers.map(() => null); // a peer's port closed: calls that still need its data cannot finish

  const keepAlive = (alive: boolean) => {
    for (const port of ports) {
      if (alive) port.ref();
      else port.unref();
    }
  };
  const fail = (error: Error) => {
    for (const call of pending.values()) call.reject(error);
    pending.clear();
    keepAlive(false);
  };
  const settle = (s: number) => {
    const call = pending.get(s);
    if (!call || !inbox.every((messages) => messages.has(s))) return;
    pending.delete(s);
    const parts = new Array<Float32Array>(size);
    parts[rank] = call.data;
    for (let i = 0; i < peers.length; i++) {
      const message = inbox[i]!.get(s)!;
      inbox[i]!.delete(s);
      if (message.collective !== call.collective || message.data.length !== call.data.length) {
        const error = new Error(`worker group: at collective #${s}, rank ${rank} called ${call.collective} with ${call.data.length} values but rank ${peers[i]} called ` +
          `${message.collective} with ${message.data.length}: every replica must make the same calls in the same order`);
        call.reject(error);
        fail(error); // the calls after it would be out of step too
        return;
      }
      parts[peers[i]!] = message.data;
    }
    if (pending.size === 0) keepAlive(false);
    call.resolve(parts);
  };
  ports.forEach((port, i) => {
    port.on('message', (message: Message) => {
      inbox[i]!.set(message.step, message);
      settle(message.step);
    });
    port.on('close', () => {
      const error = (peerClosed[i] ??= closed ?? new Error(`worker group: the port from rank ${rank} to rank ${peers[i]} closed (that worker closed its group or ended)`));
      // The peer may have sent its part of a call and then closed (its last collective done): only calls
      // still waiting for its data fail.
      for (const [s, call] of pending) {
        if (inbox[i]!.has(s)) continue;
        pending.delete(s);
        call.reject(error);
      }
      if (pending.size === 0) keepAlive(false);
    });
  });
  keepAlive(false);

  const join = (collective: Collective, data: unknown): Promise<Float32Array[]> => {
    if (!(data instanceof Float32Array)) return Promise.reject(new TypeError(`${collective} takes a Float32Array, got ${describeValue(data)}`));
    const unreachable = closed ?? peerClosed.find((e) => e !== null);
    if (unreachable) return Promise.reject(unreachable);
    const s = step++;
    const own = data.slice(); // the caller may reuse its array
    return new Promise((resolve, reject) => {
      pending.set(s, { collective, data: own, resolve, reject });
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
      closed ??= new Error(`worker group: rank ${rank} closed its group`);
      fail(closed);
      for (const port of ports) port.close();
    },
  };
}
