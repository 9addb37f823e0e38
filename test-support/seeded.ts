/** The tests' seeded PRNG is the benchmarks' own (support/seeded.ts): one mulberry32 in the tree. */
export { seeded } from '../support/seeded.js'
