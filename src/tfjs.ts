// The `webgpu-batchnorm/tfjs` entry: a TensorFlow.js layer (`batchNormalization(config)`, the class
// `BatchNormalization`) that runs this library's kernels inside tfjs's webgpu backend. It imports
// @tensorflow/tfjs-core and @tensorflow/tfjs-layers (optional peer dependencies that the main entry never
// imports); importing it registers the layer's class for deserialization and its kernels' gradients.
export { BatchNormalization, batchNormalization } from './platforms/tfjs/layer.js';
export type { BatchNormalizationLayerArgs, TfjsBatchNormalization } from './platforms/tfjs/layer.js';
export { startTfjsWebGpu } from './platforms/tfjs/start-backend.js';
