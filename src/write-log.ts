// What the library knows about the writes to each tensor: a version, counted per write through the
// library (as PyTorch's version counter), so that backward can refuse a saved tensor changed since its
// forward; and the GPU verdict of the last write, which the tensor's readbacks reject with.
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

/** Counts a write of `tensor` whose GPU verdict is `verdict`. */
export function recordWrite(tensor: object, verdict: Promise<Error | null>): void {
  const state = stateOf(tensor);
  state.version++;
  setVerdict(state, verdict);
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
