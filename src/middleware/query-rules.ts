/**
 * The text rule for every query string (src/lib/input-rules.ts), before the edge cache and any
 * handler: a decoded parameter name or value with a NUL or a lone surrogate is a 400 naming it.
 * Route schemas then check shape and range; this rule is what none of them may forget.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env.ts";
import { checkQuery, inputError } from "../lib/input-rules.ts";

export function queryRules(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const issue = checkQuery(c.req.url);
    if (issue)
      throw inputError("query", issue, `The query parameter ${JSON.stringify(issue.field)} contains text the API does not accept.`);
    return next();
  };
}
