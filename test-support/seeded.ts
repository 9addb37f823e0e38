/** The tests' seeded PRNG is the product's own (protocol/src/seeded.ts): one mulberry32 in the tree. */
export { seeded } from '../protocol/index.js'
