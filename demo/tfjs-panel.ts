// The TensorFlow.js panel: the seed article's CNN in tfjs, trained twice on MNIST from the same weights and
// mini-batches, with tfjs's BatchNormalization and with webgpu-batchnorm/tfjs's (demo/tfjs/). Start loads
// TensorFlow.js and the digits the first time (dynamic imports), then steps both models up to the step
// count; Stop ends the run after the current step, and Start resumes it (or starts over once the count is
// reached). Each step is announced as a window event ('tfjs-training-step', a StepRecord), each
// evaluation as 'tfjs-training-readout' (an Evaluation).
import { BATCH_NORM_WORK_TEXT, LOSS_AGREEMENT_RTOL, MODELS, SEED_CNN_TEXT, type ModelKey } from '../bench/seed-cnn.js';
import { tfjsComparisonCharts } from './charts.js';
import { byId, fillTable, formatCount, type Header } from './dom.js';
import { loadMnist, type MnistSplit } from './mnist/data.js';
import { setStatus, setUpRunForm } from './run-form.js';
import { DEFAULT_BATCH, EVALUATE_EVERY, LOSS_AGREEMENT_STEPS } from './tfjs/experiment.js';
import type { Evaluation, StepRecord, TfjsComparison } from './tfjs/trainer.js';

/** On a GPU a step takes milliseconds; on a software adapter (SwiftShader) seconds, and the first one a minute of shader compilation. */
const DEFAULT_STEPS = 300;
const EMULATED_DEFAULT_STEPS = 5;
const DEFAULT_TEST_DIGITS = 1000;
const EMULATED_TEST_DIGITS = 100;

const NAMES: Record<ModelKey, string> = { tfjs: "tfjs's BatchNormalization", ours: 'webgpu-batchnorm/tfjs' };

const TABLE_HEADERS: Header[] = [
  'batch norm',
  { text: 'median step', title: "the median wall time of a training step (trainOnBatch until its loss is read), the first step (shader compilation) left out" },
  { text: 'median batch norm', title: "the median time of the model's batch norm on its own after each step (its BN layers' forward and backward at the step's shapes, until the queue is done), the first step left out" },
  { text: 'share of step', title: 'median batch norm / median step: the part of a training step that batch norm takes' },
  { text: 'last step', title: 'the wall time of the latest training step' },
  { text: 'batch loss', title: "the latest mini-batch's mean cross-entropy, as its training step computed it" },
  { text: 'test accuracy', title: 'the latest evaluation on the test digits, batch norm with its moving statistics' },
];

function settingsText(testDigits: number): string {
  return (
    `Set-up. The network: ${SEED_CNN_TEXT}; the model with our layer takes the other one's weights. Data: the training ` +
    `panel's MNIST split and seeded mini-batch order; ${formatCount(testDigits)} test digits, evaluated every ${EVALUATE_EVERY} steps. ` +
    "Both models run on TensorFlow.js's webgpu backend (its own device); a step is each model's trainOnBatch, the two going " +
    `first in turn. Batch norm's share of a step: after each step, ${BATCH_NORM_WORK_TEXT}; one call, timed until the queue is done ` +
    "(a flush of tfjs's pending commands, then onSubmittedWorkDone), divided by the step's time."
  );
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!;
};

export function setUpTfjsTraining(emulated: boolean): void {
  const form = byId('tfjs-form', HTMLFormElement);
  const stepsInput = byId('tfjs-steps', HTMLInputElement);
  const batchInput = byId('tfjs-batch', HTMLInputElement);
  const digitsInput = byId('tfjs-test-digits', HTMLInputElement);
  const button = byId('tfjs-start', HTMLButtonElement);
  const progress = byId('tfjs-progress', HTMLProgressElement);
  const status = byId('tfjs-status', HTMLSpanElement);
  const speedup = byId('tfjs-speedup', HTMLParagraphElement);
  const agreement = byId('tfjs-agreement', HTMLParagraphElement);
  const batchNormShare = byId('tfjs-batch-norm', HTMLParagraphElement);
  const table = byId('tfjs-table', HTMLTableElement);
  const setup = byId('tfjs-setup', HTMLParagraphElement);
  const draw = tfjsComparisonCharts({ accuracy: byId('chart-tfjs-accuracy', HTMLCanvasElement), stepTime: byId('chart-tfjs-step-time', HTMLCanvasElement) });
  stepsInput.value = String(emulated ? EMULATED_DEFAULT_STEPS : DEFAULT_STEPS);
  batchInput.value = String(DEFAULT_BATCH);
  digitsInput.value = String(emulated ? EMULATED_TEST_DIGITS : DEFAULT_TEST_DIGITS);
  setup.textContent = settingsText(Number(digitsInput.value));

  let split: MnistSplit | null = null;
  let adapter = '';
  let comparison: TfjsComparison | null = null;
  let steps: StepRecord[] = [];
  let evaluations: Evaluation[] = [];

  const setState = (state: string, text: string) => setStatus(status, state, text);

  const show = (target: number) => {
    draw({ evaluations, steps }, target);
    const last = steps.at(-1);
    const evaluation = evaluations.at(-1);
    // The first step left out: it compiles the shaders.
    const medianOf = (pick: (s: StepRecord) => number) => median(steps.slice(1).map(pick));
    const medians = { tfjs: medianOf((s) => s.ms.tfjs), ours: medianOf((s) => s.ms.ours) };
    const batchNorm = { tfjs: medianOf((s) => s.batchNormMs.tfjs), ours: medianOf((s) => s.batchNormMs.ours) };
    const share = { tfjs: batchNorm.tfjs / medians.tfjs, ours: batchNorm.ours / medians.ours };
    const ms = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '–' : `${value.toFixed(1)} ms`);
    const percent = (value: number) => (Number.isNaN(value) ? '–' : `${(value * 100).toFixed(1)}%`);
    fillTable(
      table,
      TABLE_HEADERS,
      MODELS.map((key) => [
        NAMES[key],
        ms(medians[key]),
        ms(batchNorm[key]),
        percent(share[key]),
        ms(last?.ms[key]),
        last ? last.loss[key].toFixed(4) : '–',
        evaluation ? `${(evaluation.accuracy[key] * 100).toFixed(1)}%` : '–',
      ]),
    );
    const medianCount = `medians of ${formatCount(steps.length - 1)} steps after the first`;
    const onAdapter = ` on ${adapter}` + (emulated ? ', a software adapter: CPU time, not GPU speed.' : '.');
    if (Number.isNaN(medians.ours)) {
      speedup.textContent = '';
      delete speedup.dataset.speedup;
    } else {
      const ratio = medians.tfjs / medians.ours;
      speedup.dataset.speedup = String(ratio);
      speedup.textContent =
        `Speed-up: ${ratio.toPrecision(3)}x (tfjs's BatchNormalization ${medians.tfjs.toFixed(1)} ms per step, ours ${medians.ours.toFixed(1)} ms; ` +
        `${medianCount})${onAdapter}`;
    }
    if (Number.isNaN(share.tfjs) || Number.isNaN(share.ours)) {
      batchNormShare.textContent = '';
      delete batchNormShare.dataset.shareTfjs;
      delete batchNormShare.dataset.shareOurs;
    } else {
      batchNormShare.dataset.shareTfjs = String(share.tfjs);
      batchNormShare.dataset.shareOurs = String(share.ours);
      batchNormShare.textContent =
        `Batch norm's share of a step: ${percent(share.tfjs)} with tfjs's BatchNormalization (${batchNorm.tfjs.toFixed(1)} of ` +
        `${medians.tfjs.toFixed(1)} ms), ${percent(share.ours)} with ours (${batchNorm.ours.toFixed(1)} of ${medians.ours.toFixed(1)} ms); ` +
        `each model's BN layers timed on their own after each step, forward and backward, not Adam's update of gamma and beta ` +
        `(${medianCount})${onAdapter}`;
    }
    const difference = (s: StepRecord) => Math.abs(s.loss.ours - s.loss.tfjs) / Math.abs(s.loss.tfjs);
    const early = steps.slice(0, LOSS_AGREEMENT_STEPS);
    const worst = Math.max(0, ...early.map(difference));
    agreement.dataset.worst = String(worst);
    agreement.classList.toggle('warn', !(worst <= LOSS_AGREEMENT_RTOL));
    agreement.textContent =
      `Losses: over the first ${formatCount(early.length)} steps the two models' losses differ by at most ${worst.toExponential(2)} relative ` +
      `(the same math, float32 rounding only: expected under ${LOSS_AGREEMENT_RTOL.toExponential(0)})` +
      (last && last.step > LOSS_AGREEMENT_STEPS ? `; at step ${formatCount(last.step)}, by ${difference(last).toExponential(2)} (training amplifies rounding step by step).` : '.');
    progress.value = (last?.step ?? 0) / target;
  };

  const evaluate = async (target: number) => {
    setState('evaluating', `evaluating at step ${formatCount(comparison!.step)}…`);
    const evaluation = await comparison!.evaluate();
    evaluations.push(evaluation);
    show(target);
    window.dispatchEvent(new CustomEvent('tfjs-training-readout', { detail: evaluation }));
  };

  const run = async (target: number, batch: number, testDigits: number, stopRequested: () => boolean) => {
    setState('loading', 'loading TensorFlow.js and the 10,000 MNIST digits…');
    const [{ startTfjs, TfjsComparison }, loaded] = await Promise.all([import('./tfjs/trainer.js'), split ? Promise.resolve(split) : loadMnist()]);
    split = loaded;
    adapter = await startTfjs(); // each run: the benchmark may have switched tfjs to a backend of its own since
    if (!comparison || comparison.step >= target) {
      comparison?.dispose();
      comparison = new TfjsComparison(split, batch, testDigits);
      setup.textContent = settingsText(comparison.testDigits);
      steps = [];
      evaluations = [];
      show(target);
      await evaluate(target);
    }
    while (comparison.step < target && !stopRequested()) {
      setState('running', `step ${formatCount(comparison.step + 1)} of ${formatCount(target)}`);
      const record = await comparison.trainStep();
      steps.push(record);
      show(target);
      window.dispatchEvent(new CustomEvent('tfjs-training-step', { detail: record }));
      if (record.step % EVALUATE_EVERY === 0 || record.step === target) await evaluate(target);
    }
    const finished = comparison.step >= target;
    setState(finished ? 'done' : 'stopped', `${finished ? 'done' : 'stopped'} at step ${formatCount(comparison.step)} of ${formatCount(target)}`);
  };

  const positive = (input: HTMLInputElement, least: number) => Math.max(least, Math.round(Number(input.value) || least));

  setUpRunForm({
    form,
    button,
    inputs: [stepsInput, batchInput, digitsInput],
    status,
    run: (stopRequested) => run(positive(stepsInput, 1), positive(batchInput, 2), positive(digitsInput, 10), stopRequested),
    afterFailure: () => {
      comparison?.dispose();
      comparison = null;
    },
  });
}
