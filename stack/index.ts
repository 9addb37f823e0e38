export { type Stack, type StackOptions, type StackPart, StackStopped, startStack } from './stack.js'
export { type CatalogEvent, catalogJson, catalogText } from './catalog-events.js'
export { DEMO_MARKER, type DemoCatalog } from './demo-catalog.js'
export { startCloudflareStack } from './cloudflare.js'
