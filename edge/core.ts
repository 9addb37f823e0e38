// The edge's pure core, reused by the cache-policy benchmark: the memory tier's eviction and
// admission policies (values in, values out; no runtime).
export {
  createPolicy,
  createAdmissionFilter,
  isPolicyName,
  POLICY_NAMES,
  type AdmissionFilter,
  type EvictionPolicy,
  type PolicyName,
} from './src/policy/index.js'
export { DEFAULT_POLICY, CONFIG_VARS } from './src/config.js'
