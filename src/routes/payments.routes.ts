/** Payments (owner; Idempotency-Key required) and signed inbound provider webhooks (no auth: the signature is the auth). */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { signedRequestGuard } from "../middleware/guards.ts";
import { IdParamSchema } from "../schemas/admin-catalog.ts";
import { authResponses, IdempotencyKeyHeaders, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import { PaymentCreateSchema, PaymentSchema, ProviderParamSchema } from "../schemas/payments.ts";
import { paymentProvider, readPayment, startPayment } from "../services/payments.service.ts";
import { receiveWebhook } from "../services/webhooks.service.ts";
import { createRouter } from "./router.ts";

function providerFor(c: Context<AppEnv>) {
  return paymentProvider(c.get("config"), {
    origin: new URL(c.req.url).origin,
    log: c.get("log"),
    selfFetch: c.get("selfFetch"),
    waitUntil: (p) => c.executionCtx.waitUntil(p),
  });
}

export const paymentsRouter = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "createPayment",
      tags: ["Payments"],
      summary: "Pay a PENDING order (a new attempt on its one payment intent)",
      description:
        "The first call opens the order's payment intent (201); after a failed attempt, calling again starts a new attempt on the same intent (200, same `payment_id`), as at Stripe. Calls the provider with a timeout, jittered retries and a shared circuit breaker (open → 503 + Retry-After). A 5xx means nothing was charged: retry with the same Idempotency-Key.",
      security: [{ bearerAuth: [] }],
      request: {
        headers: IdempotencyKeyHeaders,
        body: { required: true, content: jsonContent(PaymentCreateSchema) },
      },
      responses: {
        201: { description: "Payment intent opened", content: jsonContent(PaymentSchema) },
        200: { description: "A new attempt on the order's open intent", content: jsonContent(PaymentSchema) },
        ...authResponses,
        409: problem("Order not payable, or another attempt is in progress (Retry-After)"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { order_id, test_outcome } = c.req.valid("json");
      const { created, payment } = await startPayment(
        { db: await c.get("dbFresh").orm(), env: c.env, cfg: c.get("config"), log: c.get("log"), provider: providerFor(c) },
        c.get("principal"),
        { orderId: order_id, idempotencyKey: c.req.header("idempotency-key") ?? "", testOutcome: test_outcome },
      );
      const headers = { Location: `/api/v1/payments/${payment.payment_id}` };
      return created ? c.json(payment, 201, headers) : c.json(payment, 200, headers);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      operationId: "getPayment",
      tags: ["Payments"],
      summary: "A payment (owner or ADMIN; others 404): status, refunds, failed attempts",
      security: [{ bearerAuth: [] }],
      request: { params: IdParamSchema },
      responses: { 200: { description: "The payment", content: jsonContent(PaymentSchema) }, ...authResponses, ...problemResponses },
    }),
    async (c) =>
      c.json(await readPayment(await c.get("dbFresh").orm(), c.req.valid("param").id, c.get("principal")), 200, {
        "Cache-Control": "private, no-store",
      }),
  );

/** Verified → `webhook-intake` per provider; unverified → `webhook-unverified` per client IP (src/guards). */
const admitWebhook = signedRequestGuard("POST", "/api/v1/webhooks/payments/:provider");

export const webhooksRouter = createRouter().openapi(
  createRoute({
    method: "post",
    path: "/payments/{provider}",
    operationId: "receivePaymentWebhook",
    tags: ["Payments"],
    summary: "Inbound payment webhook (signature-verified, stored, queued)",
    description:
      "Stripe: `Stripe-Signature`. Sandbox/generic: Standard Webhooks headers. Timestamp tolerance 300 s. New → 202; a redelivery of an event not applied yet (its message lost, or dead-lettered) → queued again, 202; of an applied one → 200 no-op. " +
      "The signature is checked first; then verified deliveries count against `webhook-intake` (per provider) and unverified requests against `webhook-unverified` (per client IP), so junk never crowds out the provider. " +
      "A signed body that is not a JSON object, or breaks the input rules (NUL, lone surrogate, nesting deeper than 64), is a 400 and is not stored.",
    request: { params: ProviderParamSchema },
    responses: {
      202: {
        description: "Stored (or already stored, not applied yet) and queued",
        content: jsonContent(z.object({ received: z.literal(true), id: z.string().uuid() })),
      },
      200: {
        description: "Already received and applied (no-op)",
        content: jsonContent(z.object({ received: z.literal(true), duplicate: z.literal(true) })),
      },
      401: problem("Signature or timestamp invalid"),
      429: problem("Rate limited (unverified requests per client IP; verified deliveries per provider)"),
      ...problemResponses,
    },
  }),
  async (c) => {
    // An unknown provider was refused by the path schema: it reaches no limiter (no Durable Object).
    const { provider } = c.req.valid("param");
    const res = await receiveWebhook(
      {
        db: () => c.get("dbFresh").orm(),
        cfg: c.get("config"),
        log: c.get("log"),
        queue: c.env.PAYMENT_EVENTS,
        admit: (verified) => admitWebhook(c, verified),
      },
      { provider, body: await c.req.text(), header: (name) => c.req.header(name) },
    );
    if (res.duplicate) return c.json({ received: true as const, duplicate: true as const }, 200);
    return c.json({ received: true as const, id: res.id }, 202);
  },
);
