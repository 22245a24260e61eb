// core/ is pure: inputs in, effects out. This test reads every non-test source file under core/
// and fails on anything that reaches for I/O, time, randomness, timers, the process, Promises,
// Effect, or either driver. (See proofs-notes/io.md, IO-0.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('.', import.meta.url).pathname;

const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });

const rules: readonly { readonly what: string; readonly pattern: RegExp }[] = [
  { what: 'node: import', pattern: /from\s+['"]node:|import\(\s*['"]node:|require\(/ },
  { what: 'bare Node builtin import', pattern: /from\s+['"](fs|net|os|path|crypto|child_process|worker_threads|zlib|timers|events|stream)(\/[^'"]*)?['"]/ },
  { what: 'effect import', pattern: /from\s+['"](effect|@effect\/[^'"]*)(\/[^'"]*)?['"]/ },
  { what: 'driver import', pattern: /from\s+['"](\.\.?\/)+(\.\.\/)*(sim|runtime-node)\// },
  { what: 'Date', pattern: /\bDate\s*[.(]|new\s+Date\b/ },
  { what: 'Math.random', pattern: /Math\.random/ },
  { what: 'timer', pattern: /\b(setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval)\s*\(/ },
  { what: 'process', pattern: /\bprocess\s*\./ },
  { what: 'Promise', pattern: /\bPromise\b|\basync\s+(function|\(|[a-zA-Z_$][\w$]*\s*=>)|\bawait\s/ },
  { what: 'performance clock', pattern: /\bperformance\s*\./ },
  { what: 'global fetch / console I/O', pattern: /\bfetch\s*\(|\bconsole\s*\./ },
];

const stripComments = (text: string): string =>
  text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

test('core/ contains only pure, deterministic code', () => {
  const files = sources(root);
  assert.ok(files.length > 0, 'expected source files under core/');
  const violations: string[] = [];
  for (const file of files) {
    const lines = stripComments(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      for (const rule of rules) {
        if (rule.pattern.test(line)) violations.push(`${relative(root, file)}:${i + 1}: ${rule.what}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(violations, []);
});

test('the purity scan itself catches each forbidden construct', () => {
  const bad = [
    "import { readFile } from 'node:fs';",
    "import net from 'net';",
    "import { Effect } from 'effect';",
    "import { world } from '../sim/world.ts';",
    'const t = Date.now();',
    'const r = Math.random();',
    'setTimeout(f, 1);',
    'process.exit(1);',
    'const p = new Promise(() => {});',
    'const f = async () => 1;',
  ];
  for (const line of bad) {
    assert.ok(rules.some((r) => r.pattern.test(stripComments(line))), `not caught: ${line}`);
  }
});
