// The parts of the `mnist` package (1.1.0, CommonJS) the demo reads: the array of its ten digit classes.
declare module 'mnist' {
  interface DigitClass {
    /** The digit, 0 to 9. */
    readonly id: number;
    /** How many images of this digit the package has. */
    readonly length: number;
    /** The images, 28x28 values in [0, 1] each, row by row, one after the other. */
    readonly raw: readonly number[];
  }
  const digits: readonly DigitClass[];
  export default digits;
}
