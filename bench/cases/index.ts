// Every kernel family with benchmark cases. Add a family by importing its `benchCases` and listing it here.
import type { Gpu } from '../../src/runtime/device.js';
import type { BenchCase } from '../timing.js';
import { benchCases as matmul } from './matmul.js';
import { benchCases as attention } from './attention.js';
import { benchCases as elementwise } from './elementwise.js';
import { benchCases as q4 } from './q4.js';

export interface BenchFamily { readonly name: string; benchCases(gpu: Gpu): BenchCase[] }

export const FAMILIES: readonly BenchFamily[] = [
  { name: 'matmul', benchCases: matmul },
  { name: 'attention', benchCases: attention },
  { name: 'elementwise', benchCases: elementwise },
  { name: 'q4', benchCases: q4 },
];
