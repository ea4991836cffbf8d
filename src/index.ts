/** Worker entry: HTTP (Hono app), queue consumers, Cron Triggers (scheduled jobs), and the Durable Object classes. */
import { consumeDeadLetters } from "../queues/dead-letter.consumer.ts";
import { QUEUE_NAMES } from "../queues/messages.ts";
import { consumeOutbound, kickRelay } from "../queues/outbound.ts";
import { consumePaymentEvents } from "../queues/payment-events.consumer.ts";
import { createApp } from "./app.ts";
import { withHotLane } from "./middleware/request-context.ts";
import { observeQueue, observeScheduled } from "./observability/entry.ts";
import { handleScheduled } from "./scheduled.ts";

const app = createApp();

export default {
  fetch: withHotLane(app.fetch),
  // Metrics context, retry/dead-letter counts and Sentry for every consumer and job: src/observability/entry.ts.
  queue: observeQueue(async (batch, env, ctx) => {
    if (QUEUE_NAMES.paymentEventsDlq.test(batch.queue)) return consumeDeadLetters(batch, env);
    if (QUEUE_NAMES.paymentEvents.test(batch.queue)) {
      await consumePaymentEvents(batch, env);
      // Settlement wrote order events (paid, refunded): publish them now rather than at the next cron tick.
      return ctx.waitUntil(kickRelay(env));
    }
    if (await consumeOutbound(batch, env)) return;
    console.error(JSON.stringify({ level: "error", msg: "message from an unknown queue", queue: batch.queue }));
    batch.retryAll();
  }),
  scheduled: observeScheduled((controller, env, _ctx) => handleScheduled(controller.cron, env)),
} satisfies ExportedHandler<Env, unknown>;

export { CarrierToken } from "../durable-objects/carrier-token.ts";
export { CircuitBreaker } from "../durable-objects/circuit-breaker.ts";
export { IdempotencyStore } from "../durable-objects/idempotency-store.ts";
export { RateLimiter } from "../durable-objects/rate-limiter.ts";
