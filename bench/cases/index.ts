// Every kernel family with benchmark cases. Add a family by importing its `benchCases` and listing it here.
import type { Gpu } from '../../src/runtime/device.js';
import type { BenchCase } from '../timing.js';
import { benchCases as matmul } from './matmul.js';

export interface BenchFamily { readonly name: string; benchCases(gpu: Gpu): BenchCase[] }

export const FAMILIES: readonly BenchFamily[] = [
  { name: 'matmul', benchCases: matmul },
];
