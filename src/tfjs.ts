// The `webgpu-batchnorm/tfjs` entry: a TensorFlow.js layer (`batchNormalization(config)`, the class
// `BatchNormalization`) that runs this library's kernels inside tfjs's webgpu backend. It imports
// @tensorflow/tfjs-core and @tensorflow/tfjs-layers (optional peer dependencies that the main entry never
// imports); importing it registers the layer's class for deserialization and its kernels' gradients.
/**
 * A TensorFlow.js layer computed by this library's kernels on tfjs's webgpu backend: {@link batchNormalization}
 * in place of `tf.layers.batchNormalization`, and {@link startTfjsWebGpu} to start that backend on Dawn in
 * Node.js. Importing it registers the layer's class for `tf.loadLayersModel` and its kernels' gradients:
 * `import { batchNormalization } from 'webgpu-batchnorm/tfjs'`.
 *
 * @module webgpu-batchnorm/tfjs
 */
export { BatchNormalization, batchNormalization } from './platforms/tfjs/layer.js';
export type { BatchNormalizationLayerArgs, TfjsBatchNormalization } from './platforms/tfjs/layer.js';
export type { RenormClipping } from './runtime/validate.js';
export { startTfjsWebGpu } from './platforms/tfjs/start-backend.js';
