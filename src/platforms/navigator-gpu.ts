// navigator.gpu where the runtime has none: Node.js 20 has no navigator, and later Node.js one without gpu.
// TensorFlow.js's webgpu backend refuses to start without it (startTfjsWebGpu, and the Node.js benchmark's
// tfjs on Dawn), though it only tests that it exists.

/** Sets navigator.gpu to `entryPoint` unless the runtime has one; whether navigator.gpu is there now. */
export function provideNavigatorGpu(entryPoint: GPU | null): boolean {
  const scope = globalThis as { navigator?: { gpu?: GPU } };
  if (scope.navigator?.gpu) return true;
  if (!entryPoint) return false;
  if (!scope.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  Object.defineProperty(scope.navigator, 'gpu', { value: entryPoint, configurable: true });
  return true;
}
