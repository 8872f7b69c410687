// Changes to the site: each says which version it is based on (If-Match, which the API requires), and the page
// reloads the site afterwards, also when the API refused a change for being based on an old version (412).

import { request, sitePath } from './api.js';

/** Sends `method` to the site's `parts` path with `body`; resolves to the answer's body. */
export async function changeSite(ctx, method, parts, body) {
  try {
    const { data } = await request(method, sitePath(ctx.siteName, ...parts), { body, ifMatch: ctx.version });
    await ctx.reloadSite().catch(() => {});
    return data;
  } catch (error) {
    if (error.status === 412) await ctx.reloadSite().catch(() => {});
    throw error;
  }
}
