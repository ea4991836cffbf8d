/** Payments (owner; Idempotency-Key required) and signed inbound provider webhooks (no auth: the signature is the auth). */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { PaymentEventMessage } from "../../queues/messages.ts";
import type { AppEnv } from "../app-env.ts";
import { deleteWebhookEvent, insertWebhookEvent } from "../db/payments.repo.ts";
import { errorFields } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import { createRouter } from "../lib/router.ts";
import { sleep } from "../lib/timeout.ts";
import type { PaymentProvider } from "../payments/provider.ts";
import { sandboxProvider, sandboxWebhook } from "../payments/sandbox.ts";
import { SignatureError, verifyStandardWebhook, verifyStripe } from "../payments/signatures.ts";
import { stripeProvider } from "../payments/stripe.ts";
import { authResponses, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import { PaymentCreateSchema, PaymentSchema, ProviderParamSchema } from "../schemas/payments.ts";
import { startPayment } from "../services/payments.service.ts";

function providerFor(c: Context<AppEnv>): PaymentProvider {
  const cfg = c.get("config");
  if (cfg.PAYMENT_PROVIDER === "stripe") return stripeProvider({ secretKey: cfg.STRIPE_SECRET_KEY ?? "", apiBase: cfg.STRIPE_API_BASE });
  const origin = new URL(c.req.url).origin;
  const [secret] = cfg.SANDBOX_WEBHOOK_SECRETS ?? [];
  return sandboxProvider({
    origin,
    delayMs: cfg.SANDBOX_DELAY_MS,
    deliver: (event, delayMs) => {
      if (!secret) return;
      const send = c.get("selfFetch");
      c.executionCtx.waitUntil(
        (async () => {
          if (delayMs > 0) await sleep(delayMs);
          const res = await send(await sandboxWebhook(secret, origin, event));
          await res.body?.cancel();
        })().catch((err) => c.get("log").error("sandbox webhook delivery failed", { component: "payments", ...errorFields(err) })),
      );
    },
  });
}

export const paymentsRouter = createRouter().openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createPayment",
    tags: ["Payments"],
    summary: "Start paying a PENDING order",
    description: "Calls the configured provider with a timeout, jittered retries and a shared circuit breaker (open → 503 + Retry-After).",
    security: [{ bearerAuth: [] }],
    request: {
      headers: z.object({
        "idempotency-key": z
          .string()
          .min(1)
          .max(255)
          .openapi({ param: { in: "header" } }),
      }),
      body: { required: true, content: jsonContent(PaymentCreateSchema) },
    },
    responses: {
      201: { description: "Payment initiated", content: jsonContent(PaymentSchema) },
      ...authResponses,
      409: problem("Order not payable, or a payment already exists"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { order_id, test_outcome } = c.req.valid("json");
    const res = await startPayment(
      { db: await c.get("dbFresh").orm(), env: c.env, cfg: c.get("config"), log: c.get("log"), provider: providerFor(c) },
      c.get("principal"),
      { orderId: order_id, idempotencyKey: c.req.header("idempotency-key") ?? "", testOutcome: test_outcome },
    );
    return c.json(res, 201, { Location: `/api/v1/payments/${res.payment_id}` });
  },
);

export const webhooksRouter = createRouter().openapi(
  createRoute({
    method: "post",
    path: "/payments/{provider}",
    operationId: "receivePaymentWebhook",
    tags: ["Payments"],
    summary: "Inbound payment webhook (signature-verified, stored, queued)",
    description:
      "Stripe: `Stripe-Signature`. Sandbox/generic: Standard Webhooks headers. Timestamp tolerance 300 s. Duplicate event → 200 no-op; new → 202.",
    request: { params: ProviderParamSchema },
    responses: {
      202: { description: "Stored and queued", content: jsonContent(z.object({ received: z.literal(true), id: z.string().uuid() })) },
      200: {
        description: "Already received (no-op)",
        content: jsonContent(z.object({ received: z.literal(true), duplicate: z.literal(true) })),
      },
      401: problem("Signature or timestamp invalid"),
      ...problemResponses,
    },
  }),
  async (c) => {
    const { provider } = c.req.valid("param");
    const cfg = c.get("config");
    const body = await c.req.text();
    let eventId: string | undefined;
    try {
      if (provider === "stripe") {
        await verifyStripe(body, c.req.header("stripe-signature"), cfg.STRIPE_WEBHOOK_SECRETS ?? [], cfg.WEBHOOK_TOLERANCE_SEC);
      } else {
        eventId = c.req.header("webhook-id");
        const headers = { id: eventId, timestamp: c.req.header("webhook-timestamp"), signature: c.req.header("webhook-signature") };
        await verifyStandardWebhook(body, headers, cfg.SANDBOX_WEBHOOK_SECRETS ?? [], cfg.WEBHOOK_TOLERANCE_SEC);
      }
    } catch (err) {
      if (!(err instanceof SignatureError)) throw err;
      c.get("log").warn("webhook rejected", { component: "webhooks", provider, reason: err.message });
      throw new ApiError(err.status === 400 ? "malformed_signature" : "invalid_signature", err.message);
    }
    const event = JSON.parse(body) as { id?: unknown; type?: unknown };
    eventId ??= typeof event.id === "string" ? event.id : undefined;
    if (!eventId || eventId.length > 255 || typeof event.type !== "string") {
      throw new ApiError("validation_error", "The event has no id or type.", {
        errors: [{ field: "id", in: "body", code: "required", message: "event id and type are required" }],
      });
    }
    const db = await c.get("dbFresh").orm();
    const stored = await insertWebhookEvent(db, { provider, eventId, type: event.type, payload: event });
    if (!stored) return c.json({ received: true as const, duplicate: true as const }, 200);
    const message: PaymentEventMessage = { kind: "payment-event", webhook_event_id: stored, provider, event_id: eventId };
    try {
      await c.env.PAYMENT_EVENTS.send(message, { contentType: "json" });
    } catch (err) {
      // Not queued: forget it and make the provider retry (a stored-but-unqueued event would be a 200 no-op forever).
      await deleteWebhookEvent(db, stored);
      c.get("log").error("webhook enqueue failed", { component: "webhooks", provider, event_id: eventId, ...errorFields(err) });
      throw new ApiError("service_unavailable", "Could not queue the event; retry.", { headers: { "Retry-After": "5" } });
    }
    return c.json({ received: true as const, id: stored }, 202);
  },
);
