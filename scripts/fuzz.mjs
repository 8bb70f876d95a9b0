// `npm run fuzz -- --cases 20000 [--seed S]`: the GPU fuzz test with more cases than CI runs. A failure
// names its seed; `--seed S --cases 1` replays it.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '20000' }, seed: { type: 'string', default: '1' } },
});
for (const [name, value] of Object.entries(values)) {
  if (!/^\d+$/.test(value)) {
    console.error(`fuzz: --${name} must be a non-negative integer, got '${value}'`);
    process.exit(2);
  }
}
const result = spawnSync('npx', ['vitest', 'run', '--project', 'gpu', 'test/gpu/fuzz.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_CASES: values.cases, FUZZ_SEED: values.seed },
});
process.exit(result.status ?? 1);
