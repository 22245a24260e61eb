// Sweeps the partition-log model property over many command sequences.
//   npx tsx scripts/sweep-log.ts [runs=10000] [seed=random] [--faults] [--path=<fast-check path>] [--replay-path=<commands path>] [--flush-messages=N] [--compact] [--recycle]
// Prints the count run and, on failure, the seed, the shrunk counterexample, the error and the one
// command that replays the counterexample (`replay: ... --path=<fast-check path>`).
import fc from 'fast-check';
import { modeFlags, replayCommand, runLogProperty, type PropertyOptions } from '../core/log/log-model.test.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const faults = process.argv.includes('--faults');
const pathArg = process.argv.find((a) => a.startsWith('--path='))?.slice(7);
const replayArg = process.argv.find((a) => a.startsWith('--replay-path='))?.slice(14);
const flushArg = process.argv.find((a) => a.startsWith('--flush-messages='))?.slice(17);
const flushMessages = flushArg !== undefined ? Number(flushArg) : undefined;
const runs = Number(args[0] ?? 10_000);
const seed = args[1] !== undefined ? Number(args[1]) : Math.floor(Math.random() * 2 ** 31);
const started = performance.now();
const compact = process.argv.includes('--compact');
const recycle = process.argv.includes('--recycle');
const opts: PropertyOptions = { numRuns: runs, seed, faults, path: pathArg, replayPath: replayArg, flushMessages, compact, recycle };
const details = runLogProperty(opts);
const mode = modeFlags(opts);
const secs = ((performance.now() - started) / 1000).toFixed(1);
if (details.failed) {
  console.log(`FAIL after ${details.numRuns} sequences (seed=${seed}${mode}, ${secs}s)`);
  console.log(fc.defaultReportMessage(details));
  console.log(details.errorInstance instanceof Error ? details.errorInstance.stack : String(details.errorInstance));
  // The one command that replays the shrunk counterexample alone (fast-check's seed + path).
  const replay = replayCommand(opts, details);
  if (replay !== null) console.log(`replay: ${replay}`);
  process.exit(1);
}
console.log(`ok: ${details.numRuns} sequences passed (seed=${seed}${mode}, ${secs}s)`);
