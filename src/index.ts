/** Worker entry: HTTP (Hono app), queue consumers, Cron Triggers (scheduled jobs), and the Durable Object classes. */
import { consumeDeadLetters } from "../queues/dead-letter.consumer.ts";
import { QUEUE_NAMES } from "../queues/messages.ts";
import { consumePaymentEvents } from "../queues/payment-events.consumer.ts";
import { createApp } from "./app.ts";
import { handleScheduled } from "./scheduled.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env, _ctx) {
    if (QUEUE_NAMES.paymentEventsDlq.test(batch.queue)) return consumeDeadLetters(batch, env);
    if (QUEUE_NAMES.paymentEvents.test(batch.queue)) return consumePaymentEvents(batch, env);
    console.error(JSON.stringify({ level: "error", msg: "message from an unknown queue", queue: batch.queue }));
    batch.retryAll();
  },
  scheduled: (controller, env, _ctx) => handleScheduled(controller.cron, env),
} satisfies ExportedHandler<Env, unknown>;

export { CircuitBreaker } from "../durable-objects/circuit-breaker.ts";
export { IdempotencyStore } from "../durable-objects/idempotency-store.ts";
export { RateLimiter } from "../durable-objects/rate-limiter.ts";
