// A recording wrapper around a real GPUDevice: everything passes through to the device, while the
// wrapper counts what reaches it (queue submits, command encoders created, compute passes and their
// dispatches, error scopes pushed), so host-side tests can assert how an operation drives the device.

export interface DeviceLog {
  submits: number;
  encoders: number;
  passes: number;
  dispatches: number;
  writeBuffers: number;
  errorScopes: number;
}

/** The device as a Proxy that counts into the returned log; pass it to Gpu.fromDevice. */
export function recordingDevice(device: GPUDevice): { device: GPUDevice; log: DeviceLog } {
  const log: DeviceLog = { submits: 0, encoders: 0, passes: 0, dispatches: 0, writeBuffers: 0, errorScopes: 0 };
  const queue = passThrough(device.queue, {
    submit: (real) => (buffers: Iterable<GPUCommandBuffer>) => {
      log.submits++;
      real.submit(buffers);
    },
    writeBuffer: (real) => (...args: Parameters<GPUQueue['writeBuffer']>) => {
      log.writeBuffers++;
      real.writeBuffer(...args);
    },
  });
  const wrapped = passThrough(device, {
    queue: () => queue,
    pushErrorScope: (real) => (filter: GPUErrorFilter) => {
      log.errorScopes++;
      real.pushErrorScope(filter);
    },
    createCommandEncoder: (real) => (descriptor?: GPUCommandEncoderDescriptor) => {
      log.encoders++;
      return recordingEncoder(real.createCommandEncoder(descriptor), log);
    },
  });
  return { device: wrapped, log };
}

/** A caller's encoder whose compute passes are counted into `log`. */
export function recordingEncoder(encoder: GPUCommandEncoder, log: DeviceLog): GPUCommandEncoder {
  return passThrough(encoder, {
    beginComputePass: (real) => (descriptor?: GPUComputePassDescriptor) => {
      log.passes++;
      return passThrough(real.beginComputePass(descriptor), {
        dispatchWorkgroups: (pass) => (x: number, y?: number, z?: number) => {
          log.dispatches++;
          pass.dispatchWorkgroups(x, y, z);
        },
      });
    },
  });
}

type Overrides<T> = { [K in keyof T]?: (real: T) => unknown };

/** A Proxy of `target` whose listed members are replaced and whose other methods stay bound to it. */
function passThrough<T extends object>(target: T, overrides: Overrides<T>): T {
  return new Proxy(target, {
    get(real, key) {
      const override = (overrides as Record<PropertyKey, ((r: T) => unknown) | undefined>)[key];
      if (override) return override(real);
      const value = Reflect.get(real, key, real) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(real) : value;
    },
  });
}
