import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One process per test file: dawn.node keeps native state per process, and a crash (e.g. a GC'd GPU
    // object) then takes down one file, not the whole run.
    pool: 'forks',
    maxWorkers: 2, // the reference machine has 2 cores; lavapipe uses them all while a kernel runs
    // lavapipe is software Vulkan (~5 GFLOP/s) and the browser test launches Chromium: be generous.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
