// Turns policy-defaults.txt (the one definition of the default VM policy, also read by
// src/vm/policy.ts) into a C header for the hook: node gen-defaults.mjs IN OUT.
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
const lines = readFileSync(input, 'utf8').split(/\r?\n/);
const out = [];
lines.forEach((line, i) => {
  if (!line.trim() || line.startsWith('#')) return;
  if (!/^[\x20-\x7e]+$/.test(line)) throw new Error(`${input}:${i + 1}: only printable ASCII, please`);
  out.push(`    L"${line.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}\\n"`);
});
writeFileSync(
  output,
  `/* Generated from native/hook/policy-defaults.txt by gen-defaults.mjs: edit that file. */\n` +
    `static const WCHAR policy_defaults_text[] =\n${out.join('\n')};\n`,
);
