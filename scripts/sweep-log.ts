// Sweeps the partition-log model property over many command sequences.
//   npx tsx scripts/sweep-log.ts [runs=10000] [seed=random] [--faults] [--path=<fast-check path>] [--flush-messages=N] [--compact] [--recycle]
// Prints the count run and, on failure, the seed, the shrunk counterexample and the error; the
// same seed reproduces it (`npx tsx scripts/sweep-log.ts <runs> <seed> [--faults]`).
import fc from 'fast-check';
import { runLogProperty } from '../core/log/log-model.test.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const faults = process.argv.includes('--faults');
const pathArg = process.argv.find((a) => a.startsWith('--path='))?.slice(7);
const flushArg = process.argv.find((a) => a.startsWith('--flush-messages='))?.slice(17);
const flushMessages = flushArg !== undefined ? Number(flushArg) : undefined;
const runs = Number(args[0] ?? 10_000);
const seed = args[1] !== undefined ? Number(args[1]) : Math.floor(Math.random() * 2 ** 31);
const started = performance.now();
const compact = process.argv.includes('--compact');
const recycle = process.argv.includes('--recycle');
const details = runLogProperty({ numRuns: runs, seed, faults, path: pathArg, flushMessages, compact, recycle });
const mode = `${faults ? ' --faults' : ''}${compact ? ' --compact' : ''}${recycle ? ' --recycle' : ''}${flushMessages !== undefined ? ` --flush-messages=${flushMessages}` : ''}`;
const secs = ((performance.now() - started) / 1000).toFixed(1);
if (details.failed) {
  console.log(`FAIL after ${details.numRuns} sequences (seed=${seed}${mode}, ${secs}s)`);
  console.log(fc.defaultReportMessage(details));
  console.log(details.errorInstance instanceof Error ? details.errorInstance.stack : String(details.errorInstance));
  process.exit(1);
}
console.log(`ok: ${details.numRuns} sequences passed (seed=${seed}${mode}, ${secs}s)`);
