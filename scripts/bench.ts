// Benchmarks: `npm run bench -- <name>`. Each benchmark lives in scripts/bench-<name>.ts and
// exports `run(args)`; this file only dispatches.

const benches: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  log: () => import('./bench-log.ts'),
  sim: () => import('./bench-sim.ts'),
  records: () => import('./bench-records.ts'),
};

const [name = 'log', ...args] = process.argv.slice(2);
const load = benches[name];
if (load === undefined) {
  console.error(`unknown bench '${name}'; known: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
await (await load()).run(args);
