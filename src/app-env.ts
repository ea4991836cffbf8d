import type { Config } from "./config.ts";
import type { Database } from "./db/client.ts";
import type { Logger } from "./lib/logger.ts";
import type { Principal } from "./lib/tokens.ts";

/** The one Hono environment of the app: bindings from `wrangler types`, per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    log: Logger;
    /** Lazily connected; Hyperdrive caching disabled: writes and must-be-fresh reads. */
    dbFresh: Database;
    /** Cache-Tag values for the edge cache, set by cacheable handlers. */
    cacheTags: string[];
    /** Which tier of the public edge cache answered (isolate memory or Cache API); unset otherwise. Logged. */
    cacheTier: "l1" | "l2" | undefined;
    /** Runs a request through this same app (sandbox webhooks, cache revalidation). */
    selfFetch: (req: Request) => Promise<Response>;
    /** The authenticated caller (set by requireAuth). */
    principal: Principal;
  };
}
