import t from 'tap'
import { EDGE_ROUTES } from '../../protocol/index.js'
import { routesAgree } from '../../test-support/routes.js'
import app from '../src/worker.js'

// The edge's Hono handlers and protocol's EDGE_ROUTES (its 404s, 405s and metrics labels) agree.
t.test("the edge Worker's handlers are the routes of EDGE_ROUTES", async (t) => {
  routesAgree(t, app.routes, EDGE_ROUTES)
})
