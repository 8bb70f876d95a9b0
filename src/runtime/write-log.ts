// What the library knows about the writes to each tensor: a version, counted per write through the
// library (as PyTorch's version counter), so that backward can refuse a saved tensor changed since its
// forward; and the GPU verdict of the last write, which the tensor's readbacks reject with.
//
// Several tensors may be regions of one GPUBuffer (Tensor.fromBuffer, as tfjs and ORT re-wrap their
// buffers every step): a write through one counts for every live tensor whose bytes it overlaps, as
// PyTorch's views share their base's version counter.
//
// An error belongs to the call that caused it: a write replaces the tensor's verdict, so one failed
// call does not poison later good calls that write or read the same tensor.

interface WriteState {
  version: number;
  /** The first GPU error of the last write (or of what that write read), or null. */
  verdict: Promise<Error | null>;
}

/** The verdict of work known to be clean (or whose errors go elsewhere): one shared promise, which firstError skips. */
export const NO_ERROR: Promise<Error | null> = Promise.resolve(null);
const states = new WeakMap<object, WriteState>();

/** Where a tensor lies: a byte range of a GPUBuffer. */
export interface Region {
  readonly buffer: GPUBuffer;
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** A registered tensor, held weakly, and its byte range. */
interface Resident {
  readonly tensor: WeakRef<Region>;
  readonly start: number;
  readonly end: number;
}

// The tensors over each buffer, so that a write finds the ones it overlaps; a buffer's entry goes with
// the buffer, and a tensor's once it is collected (a caller may wrap one buffer anew every step).
const residents = new WeakMap<GPUBuffer, Set<Resident>>();
const evictions = new FinalizationRegistry<{ set: Set<Resident>; resident: Resident }>(({ set, resident }) => set.delete(resident));

/** Registers a tensor as a region of its buffer (each tensor once, when it is made). */
export function registerRegion(tensor: Region): void {
  let set = residents.get(tensor.buffer);
  if (!set) residents.set(tensor.buffer, (set = new Set()));
  const resident = { tensor: new WeakRef(tensor), start: tensor.byteOffset, end: tensor.byteOffset + tensor.byteLength };
  set.add(resident);
  evictions.register(tensor, { set, resident });
}

/** Whether two regions share a byte. */
export function overlaps(a: Region, b: Region): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** `written` and the other live tensors that share a byte with it. */
function overlapping(written: Region): Region[] {
  const found = [written];
  const set = residents.get(written.buffer);
  if (!set || set.size === 1) return found;
  const start = written.byteOffset;
  const end = start + written.byteLength;
  for (const resident of set) {
    const tensor = resident.tensor.deref(); // undefined once collected, until the eviction runs
    if (tensor && tensor !== written && resident.start < end && start < resident.end) found.push(tensor);
  }
  return found;
}

function stateOf(tensor: object): WriteState {
  let state = states.get(tensor);
  if (!state) states.set(tensor, (state = { version: 0, verdict: NO_ERROR }));
  return state;
}

/** Writes through the library so far (0 for a tensor as created). */
export function writeVersion(tensor: object): number {
  return states.get(tensor)?.version ?? 0;
}

/** The GPU verdict of the tensor's last write. */
export function lastWriteVerdict(tensor: object): Promise<Error | null> {
  return states.get(tensor)?.verdict ?? NO_ERROR;
}

/**
 * Counts a write of `tensor` whose GPU verdict is `verdict`, for it and for every tensor overlapping it
 * (their contents are what this write left, good or bad).
 */
export function recordWrite(tensor: Region, verdict: Promise<Error | null>): void {
  for (const t of overlapping(tensor)) {
    const state = stateOf(t);
    state.version++;
    setVerdict(state, verdict);
  }
}

/** The first error among `verdicts`, or null. */
export function firstError(verdicts: readonly Promise<Error | null>[]): Promise<Error | null> {
  const pending = verdicts.filter((v) => v !== NO_ERROR);
  if (pending.length <= 1) return pending[0] ?? NO_ERROR;
  return Promise.all(pending).then((errors) => errors.find((e) => e !== null) ?? null);
}

/** Sets a verdict, and once it comes back clean, the shared clean one: later calls then skip waiting on it. */
function setVerdict(state: WriteState, verdict: Promise<Error | null>): void {
  state.verdict = verdict;
  if (verdict === NO_ERROR) return;
  verdict.then(
    (error) => {
      if (error === null && state.verdict === verdict) state.verdict = NO_ERROR;
    },
    () => undefined, // a rejected verdict stays, for readers to see
  );
}

/** Sets the verdict of the work that created `tensor` (an upload), without counting a write. */
export function recordCreation(tensor: object, verdict: Promise<Error | null>): void {
  setVerdict(stateOf(tensor), verdict);
}
