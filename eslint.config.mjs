// Lint configuration. The time-and-randomness rule exists so that protocol code (gossip, suspicion,
// renewal, backoff) always runs on an injected Clock and Random, and therefore on a virtual clock in
// tests. Only agent/src/core/clock.ts and agent/src/core/random.ts may touch the real ones.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const timeAndRandom = {
  'no-restricted-globals': ['error',
    { name: 'setTimeout', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
    { name: 'setInterval', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
    { name: 'clearTimeout', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
    { name: 'clearInterval', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
    { name: 'performance', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
  ],
  'no-restricted-properties': ['error',
    { object: 'Date', property: 'now', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
    { object: 'Math', property: 'random', message: 'Use the injected Random (agent/src/core/random.ts).' },
    { object: 'performance', property: 'now', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
    { object: 'globalThis', property: 'setTimeout', message: 'Use the injected Clock.' },
    { object: 'globalThis', property: 'setInterval', message: 'Use the injected Clock.' },
  ],
  'no-restricted-imports': ['error', {
    paths: [
      { name: 'timers', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
      { name: 'node:timers', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
      { name: 'timers/promises', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
      { name: 'node:timers/promises', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
      { name: 'perf_hooks', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
      { name: 'node:perf_hooks', message: 'Use the injected Clock (agent/src/core/clock.ts).' },
    ],
  }],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      ...timeAndRandom,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // The only modules allowed to read real time and real randomness.
    files: ['agent/src/core/clock.ts', 'agent/src/core/random.ts'],
    rules: { 'no-restricted-globals': 'off', 'no-restricted-properties': 'off', 'no-restricted-imports': 'off' },
  },
);
