// Random 4-bit weights for kernel tests (src/ops/matmul-q4.ts layout): the generator the self-tests use too.
export { randomQ4 } from '../../src/reference/matmul-q4.js';
