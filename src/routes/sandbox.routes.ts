/**
 * The sandbox provider's hosted "checkout page" (the redirect_url of a sandbox payment):
 * shows the payment as the webhook flow has settled it. Exists only with PAYMENT_PROVIDER=sandbox.
 */
import { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../app-env.ts";
import { ApiError } from "../lib/problem.ts";
import { sandboxPayment } from "../services/payments.service.ts";

export const sandboxRouter = new Hono<AppEnv>().get("/checkout/:ref{sbx_pi_[0-9a-f]{32}}", async (c) => {
  if (c.get("config").PAYMENT_PROVIDER !== "sandbox") throw new ApiError("not_found");
  const p = await sandboxPayment(await c.get("dbFresh").orm(), c.req.param("ref"));
  const amount = `${(p.amount_cents / 100).toFixed(2)} ${p.currency}`;
  return c.html(
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Toko sandbox checkout</title></head>
<body style="font-family: system-ui; max-width: 36rem; margin: 3rem auto">
<h1>Sandbox checkout</h1><p>Payment <code>${p.id}</code> for order <code>${p.order_id}</code>: <strong>${amount}</strong></p>
<p>Status: <strong id="status">${p.status}</strong></p>
<p>This is the built-in payment simulator. Its outcome is delivered to the API as a signed webhook; reload to see it.</p></body></html>`,
    200,
    { "Cache-Control": "no-store" },
  );
});
