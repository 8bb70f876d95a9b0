// Values vitest.config.ts provides to the GPU tests (see `provide` there).
declare module 'vitest' {
  export interface ProvidedContext {
    fuzzCases: number;
    fuzzSeed: number;
  }
}
export {};
