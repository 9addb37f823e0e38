import t from 'tap'
import { ORIGIN_ROUTES } from '../../protocol/index.js'
import { routesAgree } from '../../test-support/routes.js'
import { createOriginApp, type OriginAppOptions } from '../src/app.js'

// Registering the handlers reads none of the options, so an app built on nothing lists them.
const bare = {} as OriginAppOptions

t.test("the origin's handlers are the routes of ORIGIN_ROUTES", async (t) => {
  await t.test('with a key writer: the admin route too', async (t) => {
    routesAgree(t, createOriginApp({ ...bare, trackKeyWriter: (async () => {}) as never }).routes, ORIGIN_ROUTES)
  })
  await t.test('without one: every route but admin', async (t) => {
    routesAgree(
      t,
      createOriginApp(bare).routes,
      ORIGIN_ROUTES.filter((r) => r.name !== 'admin'),
    )
  })
})
