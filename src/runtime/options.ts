// Reading an options object the way PyTorch reads keyword arguments: an unknown key is an error that
// names it (a typo such as `momemtum` must not run with the default), and each key is read exactly once
// (a getter read twice could answer differently).

/**
 * A plain copy of `value`'s known keys (absent ones left out). `what` names the object in messages
 * ("batchNorm options", "out"); undefined reads as {} when `optional`.
 */
export function readOptions<K extends string>(
  value: unknown,
  what: string,
  known: readonly K[],
  optional = true,
): Partial<Record<K, unknown>> {
  if (value === undefined && optional) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${describeValue(value)}`);
  }
  const copy: Partial<Record<K, unknown>> = {};
  for (const key of Object.keys(value)) {
    if (!(known as readonly string[]).includes(key)) {
      throw new TypeError(`${what} has an unknown key '${key}'; the known keys are ${known.map((k) => `'${k}'`).join(', ')}`);
    }
    const read = (value as Record<string, unknown>)[key];
    if (read !== undefined) copy[key as K] = read;
  }
  return copy;
}

/** A short description of a value for error messages: its type, and its value where that is short. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : `an object with keys [${Object.keys(value).join(', ')}]`;
}
