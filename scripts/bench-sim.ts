// `npm run bench -- sim [--seeds N] [--faults swarm]`: how fast the simulator sweeps. Prints wall
// time, simulated time, their ratio, runs per second and operations checked, and the verdicts.
import { parseArgs } from 'node:util';
import { parseDuration, parseFaults } from '../sim/cli.ts';
import { sweep } from '../sim/run.ts';

export const run = async (args: string[]): Promise<void> => {
  const { values } = parseArgs({ args, options: { seeds: { type: 'string', default: '100' }, faults: { type: 'string', default: 'swarm' }, duration: { type: 'string', default: '20000' } } });
  const n = Number(values.seeds);
  const faults = parseFaults(values.faults!);
  const durationMs = parseDuration(values.duration!);
  const walls: number[] = [];
  const seeds = Array.from({ length: n }, (_, i) => i + 1);
  const { failures, operations: ops, simulatedMs, wallMs } = sweep(seeds, { faults, durationMs }, (r) => walls.push(r.wallMs));
  const failed = failures.map((f) => f.seed);
  walls.sort((a, b) => a - b);
  const pct = (p: number): number => walls[Math.min(walls.length - 1, Math.floor(p * walls.length))];
  console.log(`simulator sweep: ${n} runs, faults ${faults.join(',')}, ${durationMs} ms of faults each`);
  console.log(`  wall ${(wallMs / 1000).toFixed(1)} s, simulated ${(simulatedMs / 1000).toFixed(0)} s, simulated/wall ${(simulatedMs / wallMs).toFixed(1)}x`);
  console.log(`  ${(n / (wallMs / 1000)).toFixed(2)} runs/s, per run wall p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${walls[walls.length - 1]} ms`);
  console.log(`  ${ops} client operations checked for linearizability`);
  console.log(`  violations: ${failed.length === 0 ? 'none' : `seeds ${failed.join(', ')}`}`);
};
