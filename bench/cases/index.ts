// Every kernel family with benchmark cases (one file per family, named like its src/ops file). Add a family by
// importing its `benchCases` and listing it here.
import type { Gpu } from '../../src/runtime/device.js';
import type { BenchCase } from '../timing.js';
import { benchCases as matmul } from './matmul.js';
import { benchCases as attention } from './attention.js';
import { benchCases as rmsnorm } from './rmsnorm.js';
import { benchCases as activation } from './activation.js';
import { benchCases as rope } from './rope.js';
import { benchCases as rows } from './rows.js';
import { benchCases as sample } from './sample.js';
import { benchCases as q4 } from './matmul-q4.js';

export interface BenchFamily { readonly name: string; benchCases(gpu: Gpu): BenchCase[] }

export const FAMILIES: readonly BenchFamily[] = [
  { name: 'matmul', benchCases: matmul },
  { name: 'attention', benchCases: attention },
  { name: 'rmsnorm', benchCases: rmsnorm },
  { name: 'activation', benchCases: activation },
  { name: 'rope', benchCases: rope },
  { name: 'rows', benchCases: rows },
  { name: 'sample', benchCases: sample },
  { name: 'matmul-q4', benchCases: q4 },
];
