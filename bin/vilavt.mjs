#!/usr/bin/env node
// The `vilavt` command. TypeScript sources run through tsx (no build step); the WGSL kernels are packed into
// src/runtime/wgsl.generated.ts first (a no-op when it is up to date).
import { register } from 'tsx/esm/api';

register();
await import('../scripts/gen-wgsl.mjs');
const { run } = await import('../src/cli/main.ts');
run(process.argv.slice(2));
