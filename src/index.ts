/** Worker entry: HTTP via the Hono app (later: queue consumers, crons, Durable Objects). */
import { createApp } from "./app.ts";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;

export { IdempotencyStore } from "../durable-objects/idempotency-store.ts";
export { RateLimiter } from "../durable-objects/rate-limiter.ts";
