// The TensorFlow.js panel's swap (demo/tfjs/ builds the seed article's CNN with one or the other). Shown
// on the page between the region markers; type-checked by `tsc --noEmit`.
// #region shown
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNormalization } from 'webgpu-batchnorm/tfjs';

const bn = { momentum: 0.9, epsilon: 0.001 };
const model = tfl.sequential({
  layers: [
    // each batchNormalization(...) was tfl.layers.batchNormalization(...)
    batchNormalization({ ...bn, inputShape: [28, 28, 1] }),
    tfl.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }),
    batchNormalization(bn),
    // ... the rest of the CNN, every BN swapped the same way
  ],
});
// #endregion shown
console.log(model.countParams());
