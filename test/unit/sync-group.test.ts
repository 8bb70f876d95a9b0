// The process groups SyncBatchNorm exchanges through, without a GPU: createLocalGroup (replicas in one
// process) and the worker_threads group (src/platforms/worker-group.ts; here its replicas are joined in one thread, which
// MessagePorts allow; test/dawn/sync-workers.test.ts runs it across workers). Both answer in rank order,
// add in rank order in float64 so every replica gets the same sum, refuse mismatched calls on every
// replica, and check what they are given.
import { describe, expect, it } from 'vitest';
import { createWorkerGroup, joinWorkerGroup } from '../../src/node.js';
import { assertSyncGroup, checkedAllGather, checkedAllReduceSum, createLocalGroup, type SyncGroup, type SyncGroupOptions } from '../../src/modules/sync-group.js';

const kinds: { name: string; make: (size: number, options?: SyncGroupOptions) => (SyncGroup & { close: () => void })[] }[] = [
  { name: 'createLocalGroup', make: (size, options) => createLocalGroup(size, options) },
  { name: 'the worker group (ports in one thread)', make: (size, options) => createWorkerGroup(size, options).map((endpoint) => joinWorkerGroup(endpoint)) },
];

/** Whether `promise` is still pending after the timers and messages now due have run. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  return !settled;
}

describe.each(kinds)('$name', ({ make }) => {
  it('gathers in rank order and sums in rank order, the same bits on every replica; callers may reuse their arrays', async () => {
    const groups = make(3);
    expect(groups.map((g) => [g.rank, g.size])).toEqual([[0, 3], [1, 3], [2, 3]]);
    const data = groups.map((g) => Float32Array.of(g.rank, 1e8, -1e8 + g.rank));
    const gathered = await Promise.all(groups.map((g, r) => g.allGather(data[r]!)));
    for (const answer of gathered) expect(answer.map((a) => Array.from(a))).toEqual(data.map((d) => Array.from(d)));
    data[0]![0] = 99; // after the call: the answers are copies
    expect(gathered[1]![0]![0]).toBe(0);
    // 1e8 + 1e8 + 1e8 and 2^-30 added: float64 keeps what float32 additions in some order would drop.
    const sums = await Promise.all(groups.map((g) => g.allReduceSum(Float32Array.of(1e8, 2 ** -30, g.rank))));
    for (const s of sums) expect(Array.from(s)).toEqual([3e8, Math.fround(3 * 2 ** -30), 3]);
    // Concurrent calls are told apart by their order.
    const [first, second] = await Promise.all([
      Promise.all(groups.map((g) => g.allReduceSum(Float32Array.of(1)))),
      Promise.all(groups.map((g) => g.allReduceSum(Float32Array.of(10)))),
    ]);
    expect(first.map((s) => s[0])).toEqual([3, 3, 3]);
    expect(second.map((s) => s[0])).toEqual([30, 30, 30]);
    for (const g of groups) g.close?.();
  });

  it('refuses a call that differs from another replica\'s at the same step, on every replica', async () => {
    const groups = make(2);
    const calls = await Promise.allSettled([groups[0]!.allGather(new Float32Array(3)), groups[1]!.allReduceSum(new Float32Array(3))]);
    for (const c of calls) expect(c.status === 'rejected' && String(c.reason)).toMatch(/at collective #0, rank \d called \w+ with 3 values but rank \d called \w+ with 3/);
    await expect(groups[0]!.allGather([1, 2] as never)).rejects.toThrow('allGather takes a Float32Array, got an array of length 2');
    for (const g of groups) g.close?.();
  });

  it('times out a collective that a replica never joins, naming it, on every waiting replica; then refuses every call', async () => {
    const groups = make(3, { timeoutMs: 50 });
    const started = Date.now();
    const waiting = await Promise.allSettled([groups[0]!.allGather(Float32Array.of(1)), groups[2]!.allGather(Float32Array.of(3))]);
    expect(Date.now() - started).toBeLessThan(2000);
    for (const w of waiting) expect(w.status === 'rejected' && String(w.reason)).toMatch(/collective #0 \(allGather\) timed out after 50 ms.*rank\(s\) 1 never arrived/);
    // The late replica, and every later call, is refused (once the peers' notice has arrived, for workers):
    // no message of the aborted step reaches a later collective.
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const g of groups) await expect(g.allGather(Float32Array.of(g.rank))).rejects.toThrow(/the group was aborted \(.*timed out after 50 ms/);
    for (const g of groups) g.close();
  });

  it('close() settles every waiting call with a rejection, and later calls reject', async () => {
    const groups = make(2);
    const waiting = groups[0]!.allReduceSum(Float32Array.of(1));
    expect(await pending(waiting)).toBe(true);
    groups[1]!.close();
    await expect(waiting).rejects.toThrow(/rank 1 closed/);
    await expect(groups[1]!.allGather(Float32Array.of(1))).rejects.toThrow(/rank 1 closed/);
    groups[0]!.close();
    expect(() => make(2, { timeoutMs: 0 })).toThrow('options.timeoutMs must be a positive number of milliseconds (Infinity: no timeout), got 0');
  });

  it('gathers arrays of different lengths (for SyncBatchNorm to name the replica that differs)', async () => {
    const groups = make(2, { timeoutMs: Infinity });
    const answers = await Promise.all([groups[0]!.allGather(Float32Array.of(1)), groups[1]!.allGather(Float32Array.of(2, 3))]);
    for (const a of answers) expect(a.map((p) => Array.from(p))).toEqual([[1], [2, 3]]);
    for (const g of groups) g.close();
  });

  it('a group of one answers at once', async () => {
    const [group] = make(1);
    expect(Array.from((await group!.allGather(Float32Array.of(4)))[0]!)).toEqual([4]);
    expect(Array.from(await group!.allReduceSum(Float32Array.of(4)))).toEqual([4]);
    group!.close?.();
  });
});

describe('the worker group', () => {
  it("rejects a waiting collective when a replica closes, and names a bad endpoint", async () => {
    const groups = createWorkerGroup(2).map(joinWorkerGroup);
    const waiting = groups[0]!.allGather(new Float32Array(1));
    groups[1]!.close();
    await expect(waiting).rejects.toThrow('worker group: the port from rank 0 to rank 1 closed (that worker closed its group or ended)');
    await expect(groups[1]!.allGather(new Float32Array(1))).rejects.toThrow('worker group: rank 1 closed its group');
    groups[0]!.close();
    expect(() => joinWorkerGroup({ rank: 0, size: 2, ports: [] })).toThrow(
      "joinWorkerGroup(endpoint): ports must be 1 MessagePorts, got an array of length 0 (pass createWorkerGroup(size)[rank] in the Worker's workerData, and its ports in transferList)",
    );
    expect(() => joinWorkerGroup(undefined as never)).toThrow('joinWorkerGroup(endpoint) takes an endpoint { rank, size, ports }, got undefined');
    expect(() => createWorkerGroup(1.5)).toThrow('createWorkerGroup(size): size must be an integer >= 1, got 1.5');
  });
});

describe('the checks SyncBatchNorm applies to a group', () => {
  it('names what is wrong with the group and with its answers', async () => {
    expect(() => assertSyncGroup(null, 'group')).toThrow('group must be a group { rank, size, allGather, allReduceSum }');
    expect(() => assertSyncGroup({ rank: -1, size: 2, allGather() {}, allReduceSum() {} }, 'group')).toThrow('group.rank must be an integer in [0, 1] (size 2), got -1');
    const answering = (gather: unknown, sum: unknown): SyncGroup => ({ rank: 0, size: 2, allGather: async () => gather as never, allReduceSum: async () => sum as never });
    const data = Float32Array.of(1, 2);
    await expect(checkedAllGather(answering('x', null), data, 'step')).rejects.toThrow("step: group.allGather must resolve with 2 Float32Arrays (one per replica), got 'x'");
    await expect(checkedAllGather(answering([data, [1, 2]], null), data, 'step')).rejects.toThrow("step: group.allGather's array 1 must be a Float32Array, got an array of length 2");
    await expect(checkedAllGather(answering([Float32Array.of(1, 3), data], null), data, 'step')).rejects.toThrow(
      "step: group.allGather's array 0 (this replica's rank) is not the data this replica sent: the answer must be in rank order",
    );
    await expect(checkedAllReduceSum(answering(null, new Float64Array(2)), data, 'step')).rejects.toThrow(
      'step: group.allReduceSum must resolve with a Float32Array of 2 values, got a Float64Array',
    );
    expect(await checkedAllReduceSum(answering(null, Float32Array.of(5, 6)), data, 'step')).toEqual(Float32Array.of(5, 6));
  });
});
