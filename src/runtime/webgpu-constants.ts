// WebGPU flag values, fixed by the spec. Spelled out here because in Node the `GPUBufferUsage`,
// `GPUMapMode` and `GPUShaderStage` globals exist only if the caller installed Dawn's globals.

export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export const MapMode = { READ: 0x0001 } as const;

export const ShaderStage = { COMPUTE: 0x4 } as const;
