// `npm run sim -- ...`: one simulated run, or a sweep of seeds, with a verdict, a trace hash and
// the exact command that replays any failure.
//
//   --seed N            one run (default 1)
//   --seeds A..B        a sweep over seeds A to B inclusive, with progress and a summary
//   --faults LIST       comma list of partition,crash,pause,disk,clock,net,reads, or swarm (default none)
//   --duration MS       simulated duration of the fault phase (default 20000; '20s' works too)
//   --scenario NAME     a named scenario from scenarios/ (sets faults and duration)
//   --json              one JSON object per run on stdout
//   --quiet             in a sweep, print only the summary and failures
import { parseArgs } from 'node:util';
import { type RunOptions, type RunResult, sweep } from './run.ts';
import { FAULT_FLAGS, type FaultFlag } from './faults.ts';
import { scenarios } from '../scenarios/index.ts';

interface Cli {
  readonly seeds: readonly number[];
  readonly faults: readonly FaultFlag[];
  readonly durationMs: number;
  readonly scenario: string | undefined;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly sweep: boolean;
}

export const parseDuration = (text: string): number => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`--duration: expected a number of ms (or 20s, 2m), got '${text}'`);
  const n = Number(m[1]);
  return Math.round(m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n);
};

const parseSeeds = (text: string): number[] => {
  const m = /^(\d+)\.\.(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--seeds: expected A..B, got '${text}'`);
  const [a, b] = [Number(m[1]), Number(m[2])];
  if (b < a) throw new Error(`--seeds: empty range ${text}`);
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
};

export const parseFaults = (text: string): FaultFlag[] => {
  if (text.trim() === '' || text === 'none') return [];
  const flags = text.split(',').map((f) => f.trim());
  for (const f of flags) {
    if (!(FAULT_FLAGS as readonly string[]).includes(f)) {
      throw new Error(`--faults: unknown fault '${f}' (known: ${FAULT_FLAGS.join(', ')})`);
    }
  }
  return flags as FaultFlag[];
};

export const parseCli = (argv: readonly string[]): Cli => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seed: { type: 'string' },
      seeds: { type: 'string' },
      faults: { type: 'string' },
      duration: { type: 'string' },
      scenario: { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.seed !== undefined && values.seeds !== undefined) throw new Error('give --seed or --seeds, not both');
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) throw new Error(`--seed: expected a whole number, got '${values.seed}'`);
  const scenario = values.scenario;
  if (scenario !== undefined && !(scenario in scenarios)) {
    throw new Error(`--scenario: unknown '${scenario}' (known: ${Object.keys(scenarios).join(', ')})`);
  }
  return {
    seeds: values.seeds !== undefined ? parseSeeds(values.seeds) : [Number(values.seed ?? 1)],
    faults: parseFaults(values.faults ?? ''),
    durationMs: values.duration !== undefined ? parseDuration(values.duration) : 20_000,
    scenario,
    json: values.json ?? false,
    quiet: values.quiet ?? false,
    sweep: values.seeds !== undefined,
  };
};

/** The one command that replays this run exactly. */
export const replayCommand = (opts: RunOptions): string => {
  const parts = ['npm run sim --', `--seed ${opts.seed}`];
  if (opts.scenario !== undefined) parts.push(`--scenario ${opts.scenario}`);
  else if (opts.faults.length > 0) parts.push(`--faults ${opts.faults.join(',')}`);
  if (opts.scenario === undefined) parts.push(`--duration ${opts.durationMs}`);
  return parts.join(' ');
};

const jsonLine = (r: RunResult): string =>
  JSON.stringify({
    seed: r.seed,
    faults: r.faults,
    scenario: r.scenario ?? null,
    operations: r.operations,
    violations: r.violations,
    traceHash: r.traceHash,
    simulatedMs: r.simulatedMs,
    wallMs: r.wallMs,
    verdict: r.violations.length === 0 ? 'ok' : 'fail',
    replay: replayCommand(r.options),
  });

const printRun = (r: RunResult): void => {
  const ok = r.violations.length === 0;
  const out = ok ? process.stdout : process.stderr;
  out.write(`seed ${r.seed}  faults ${r.faults.join(',') || 'none'}${r.scenario ? `  scenario ${r.scenario}` : ''}\n`);
  out.write(`  operations ${r.operations} (ok ${r.opCounts.ok}, fail ${r.opCounts.fail}, info ${r.opCounts.info})` +
    `  faults injected ${r.faultsInjected}  leaders elected ${r.leadersElected}\n`);
  out.write(`  quorum tuning: fetch ${r.tuning.maxFetchEntries} entries, snapshot every ${r.tuning.snapshotEveryEntries}, segments ${r.tuning.segmentMaxBytes / 1024} KiB\n`);
  out.write(`  linearizability ${r.linearizability}  liveness ${r.liveness}\n`);
  for (const v of r.violations.slice(0, 10)) out.write(`  VIOLATION ${v.invariant} at ${v.timeMs}ms node ${v.node}: ${v.message}\n`);
  if (r.violations.length > 10) out.write(`  ... ${r.violations.length - 10} more violations\n`);
  out.write(`  simulated ${(r.simulatedMs / 1000).toFixed(1)}s in ${r.wallMs}ms wall (${(r.simulatedMs / Math.max(1, r.wallMs)).toFixed(0)}x)\n`);
  out.write(`  trace ${r.traceHash}\n`);
  out.write(`verdict: ${ok ? 'OK' : 'FAIL'}\n`);
  if (!ok) out.write(`replay: ${replayCommand(r.options)}\n`);
};

const progress = (done: number, total: number, failures: number, startMs: number): void => {
  if (!process.stderr.isTTY) {
    if (done % 100 === 0 || done === total) process.stderr.write(`  ${done}/${total} runs, ${failures} failed\n`);
    return;
  }
  const width = 30;
  const filled = Math.round((done / total) * width);
  const elapsedS = (performance.now() - startMs) / 1000;
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ${failures} failed  ${elapsedS.toFixed(0)}s`);
  if (done === total) process.stderr.write('\n');
};

export const main = (argv: readonly string[]): number => {
  let cli: Cli;
  try {
    cli = parseCli(argv);
  } catch (e) {
    process.stderr.write(`sim: ${(e as Error).message}\n`);
    return 2;
  }
  const started = performance.now();
  const { failures, operations, simulatedMs, wallMs: sweepWallMs } = sweep(
    cli.seeds,
    { faults: cli.faults, durationMs: cli.durationMs, scenario: cli.scenario },
    (r, i, failed) => {
      if (cli.json) process.stdout.write(jsonLine(r) + '\n');
      else if (!cli.sweep || (r.violations.length > 0 && !cli.quiet)) printRun(r);
      else if (r.violations.length > 0) process.stderr.write(`seed ${r.seed} FAIL: replay: ${replayCommand(r.options)}\n`);
      if (cli.sweep && !cli.json) progress(i + 1, cli.seeds.length, failed, started);
    },
  );
  if (cli.sweep) {
    const wallMs = Math.round(sweepWallMs);
    const summary = {
      runs: cli.seeds.length,
      failed: failures.length,
      failedSeeds: failures.map((f) => f.seed),
      operations,
      simulatedMs,
      wallMs,
      speedup: Number((simulatedMs / Math.max(1, wallMs)).toFixed(1)),
    };
    if (cli.json) process.stdout.write(JSON.stringify({ summary }) + '\n');
    else {
      process.stdout.write(`sweep: ${summary.runs} runs, ${summary.failed} failed, ${operations} operations, ` +
        `simulated ${(simulatedMs / 1000).toFixed(0)}s in ${(wallMs / 1000).toFixed(1)}s wall (${summary.speedup}x)\n`);
      for (const f of failures.slice(0, 20)) process.stdout.write(`  replay: ${replayCommand(f.options)}\n`);
    }
  }
  return failures.length > 0 ? 1 : 0;
};

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('sim/cli.ts')) {
  process.exitCode = main(process.argv.slice(2));
}
