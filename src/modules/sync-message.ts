// What SyncBatchNorm's replicas send each other, and what each checks in what it receives. A training
// forward's all-gather always happens, whatever this replica's call did: a header (whether the call failed, and the
// module's configuration) before the statistics, or before the text of the error that refused the call.
// The backward's all-reduce carries one status slot per replica before the sums. So a replica that refuses
// its input still takes its step of the exchange: its peers reject promptly, naming it, and the group stays
// aligned for the next call; replicas that disagree on their configuration reject on every replica.
import { describeValue } from '../runtime/options.js';

/** The module's configuration that every replica must share, as sent in the forward's header. */
export interface SyncConfig {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  /** Whether the module has a weight, and a bias. */
  readonly weight: boolean;
  readonly bias: boolean;
}

/** [status, numFeatures, eps, momentum (-1 for null), weight, bias]. */
export const HEADER_LENGTH = 6;
const OK = 0;
const FAILED = 1;
/** The most characters of an error's message a failure carries. */
const MESSAGE_CHARACTERS = 300;

/** The forward's message: the header, then the statistics. */
export function forwardMessage(config: SyncConfig, statistics: Float32Array): Float32Array {
  const message = new Float32Array(HEADER_LENGTH + statistics.length);
  message.set(header(OK, config));
  message.set(statistics, HEADER_LENGTH);
  return message;
}

/** The forward's message of a call that failed: the header, then the error's message as character codes. */
export function forwardFailure(config: SyncConfig, error: unknown): Float32Array {
  const text = (error instanceof Error ? error.message : String(error)).slice(0, MESSAGE_CHARACTERS);
  const message = new Float32Array(HEADER_LENGTH + text.length);
  message.set(header(FAILED, config));
  for (let i = 0; i < text.length; i++) message[HEADER_LENGTH + i] = text.charCodeAt(i);
  return message;
}

function header(status: number, c: SyncConfig): number[] {
  return [status, c.numFeatures, c.eps, c.momentum ?? -1, c.weight ? 1 : 0, c.bias ? 1 : 0];
}

function describeConfig(part: Float32Array): string {
  const [, numFeatures, eps, momentum, weight, bias] = part;
  return `numFeatures ${numFeatures}, eps ${+eps!.toPrecision(7)}, momentum ${momentum === -1 ? 'null' : +momentum!.toPrecision(7)}, ` +
    `${weight ? 'a' : 'no'} weight, ${bias ? 'a' : 'no'} bias`;
}

/**
 * Every replica's statistics from the gathered messages, after the checks every replica makes alike (so
 * that all of them throw, or none): no replica failed, every replica's configuration is this one's, every
 * message has this one's length. `what` names the call in messages.
 */
export function readForward(gathered: readonly Float32Array[], own: Float32Array, what: string): Float32Array[] {
  gathered.forEach((part, rank) => {
    if (part.length < HEADER_LENGTH || (part[0] !== OK && part[0] !== FAILED)) {
      throw new Error(`${what}: rank ${rank} sent ${describeValue(part)} of ${part.length} values, not SyncBatchNorm's forward message (are all replicas running SyncBatchNorm?)`);
    }
  });
  const failed = gathered.flatMap((part, rank) => (part[0] === FAILED ? [`rank ${rank}: ${String.fromCharCode(...part.subarray(HEADER_LENGTH))}`] : []));
  if (failed.length > 0) throw new Error(`${what}: the forward of ${failed.length === 1 ? 'a replica' : 'replicas'} failed, so no replica ran this step (${failed.join('; ')})`);
  gathered.forEach((part, rank) => {
    if (part.subarray(1, HEADER_LENGTH).some((v, i) => v !== own[i + 1])) {
      throw new Error(`${what}: the replicas' modules differ: rank ${rank} has ${describeConfig(part)} but this replica has ${describeConfig(own)}; every replica must run the same layer`);
    }
    if (part.length !== own.length) throw new Error(`${what}: rank ${rank} sent ${part.length} values, this replica ${own.length}: every replica must send the same statistics`);
  });
  return gathered.map((part) => part.subarray(HEADER_LENGTH));
}

/** The backward's message: one status slot per replica (this one's 1 if its call failed), then the sums. */
export function backwardMessage(rank: number, size: number, sums: Float32Array | null, length: number): Float32Array {
  const message = new Float32Array(size + length);
  if (sums) message.set(sums, size);
  else message[rank] = FAILED;
  return message;
}

/** The sums from the all-reduced backward message, unless a replica failed (then every replica throws). */
export function readBackward(total: Float32Array, size: number, what: string): Float32Array {
  const failed = Array.from(total.subarray(0, size)).flatMap((status, rank) => (status !== OK ? [rank] : []));
  if (failed.length > 0) throw new Error(`${what}: the backward of rank ${failed.join(', rank ')} failed (see the error there), so no replica ran this step`);
  return total.subarray(size);
}
