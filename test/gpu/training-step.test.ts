// A few steps of gradient descent on a BatchNorm module's weight and bias, on the GPU: forward, the MSE
// loss against a target, backward, update. The loss must fall at every step and end far below its start.
// Each forward writes the same `out` tensor.
import { afterAll, expect, it } from 'vitest';
import { BatchNorm, Tensor, type Gpu } from '../../src/index.js';
import { channelMoments } from '../../src/reference.js';
import { gaussian, seededRandom, uniform } from '../support/random.js';
import { inErrorScopes, testGpu } from './gpu-context.js';

const SHAPE = [8, 4, 6, 6];
const SIZE = 8 * 4 * 36;
const CHANNELS = 4;
const STEPS = 6;
// MSE over SIZE values has curvature 2*(N*H*W)/SIZE = 2/CHANNELS = 0.5 in each weight and bias, so a
// learning rate of 1 halves each parameter's distance to its optimum per step.
const LEARNING_RATE = 1;

const losses: number[] = [];

function writeTensor(gpu: Gpu, t: Tensor, values: Float32Array): void {
  gpu.device.queue.writeBuffer(t.buffer, 0, values.buffer, values.byteOffset, values.byteLength);
}

it('gradient descent on weight and bias reduces an MSE loss', async () => {
  const gpu = await testGpu(true);
  await inErrorScopes(gpu, async () => {
    const rnd = seededRandom(2026);
    const x = gaussian(rnd, SIZE, 3, 2);
    // The target is an affine map of the normalized input plus noise: reachable up to the noise.
    const { mean, variance } = channelMoments(x, SHAPE);
    const a = uniform(rnd, CHANNELS, -2, 2);
    const b = uniform(rnd, CHANNELS, -1, 1);
    const noise = gaussian(rnd, SIZE, 0, 0.1);
    const spatial = SIZE / (SHAPE[0]! * CHANNELS);
    const target = Float32Array.from(x, (v, i) => {
      const c = Math.floor(i / spatial) % CHANNELS;
      return a[c]! * ((v - mean[c]!) / Math.sqrt(variance[c]! + 1e-5)) + b[c]! + noise[i]!;
    });

    const bn = new BatchNorm(gpu, CHANNELS);
    const weight = new Float32Array(CHANNELS).fill(1);
    const bias = new Float32Array(CHANNELS);
    const xT = Tensor.fromArray(gpu, x, SHAPE);
    const yT = Tensor.empty(gpu, SHAPE); // every step's y goes here: a steady state allocates no y
    for (let step = 0; step <= STEPS; step++) {
      expect(bn.forward(xT, { out: { y: yT } })).toBe(yT);
      const y = await yT.toArray();
      let loss = 0;
      const dy = new Float32Array(SIZE);
      for (let i = 0; i < SIZE; i++) {
        const r = y[i]! - target[i]!;
        loss += r * r;
        dy[i] = (2 * r) / SIZE; // d(mean of r^2)/dy
      }
      losses.push(loss / SIZE);
      if (step === STEPS) break;

      const dyT = Tensor.fromArray(gpu, dy, SHAPE);
      const { dx, dweight, dbias } = bn.backward(dyT);
      const [dw, db] = [await dweight!.toArray(), await dbias!.toArray()];
      for (const t of [dyT, dx, dweight, dbias]) t?.destroy();
      for (let c = 0; c < CHANNELS; c++) {
        weight[c] = weight[c]! - LEARNING_RATE * dw[c]!;
        bias[c] = bias[c]! - LEARNING_RATE * db[c]!;
      }
      writeTensor(gpu, bn.weight!, weight);
      writeTensor(gpu, bn.bias!, bias);
    }
    xT.destroy();
    yT.destroy();
    bn.destroy();

    for (let step = 1; step <= STEPS; step++) expect(losses[step]).toBeLessThan(losses[step - 1]!);
    // Each step leaves a quarter of the reducible loss; the noise (variance 0.01) stays.
    expect(losses[STEPS]).toBeLessThan(0.011 + 0.25 ** STEPS * losses[0]! * 1.5);
    expect(losses[STEPS]).toBeLessThan(0.05 * losses[0]!);
  });
});

afterAll(() => {
  console.log(`training step: MSE by step ${losses.map((l) => l.toPrecision(4)).join(' -> ')}`);
});
