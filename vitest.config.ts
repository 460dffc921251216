import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One process per test file: dawn.node keeps native state per process, and a crash (e.g. a GC'd GPU
    // object) then takes down one file, not the whole run.
    pool: 'forks',
    maxWorkers: 2, // the reference machine has 2 cores; lavapipe uses them all while a kernel runs
    // lavapipe is software Vulkan (~5 GFLOP/s), the browser tests launch Chromium, and the first test file to need
    // the demo assets generates two tiny checkpoints with the full 152k vocabulary (~80 s alone): be generous.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
