// Runs every *.test.ts under the project's source folders with node:test through tsx.
// (Node 20's test runner cannot glob .ts files itself.) Extra arguments are passed to node.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = ['core', 'sim', 'runtime-node', 'scenarios', 'scripts'];
const found = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return found(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
const files = roots.filter((r) => { try { return statSync(r).isDirectory(); } catch { return false; } }).flatMap(found).sort();
const filter = process.env.TEST_FILTER;
const chosen = filter ? files.filter((f) => f.includes(filter)) : files;
const args = ['--import', 'tsx', '--test', '--test-concurrency=2', ...process.argv.slice(2), ...chosen];
const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(run.status ?? 1);
