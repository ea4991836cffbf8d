/**
 * Customer email templates: which events send one, and the plain-text + HTML rendering. Pure
 * functions (no I/O): the notifications service reads the order and hands it in.
 */
export type Template = "order_paid" | "order_shipped" | "order_refunded" | "payment_failed";

export const TEMPLATES: Template[] = ["order_paid", "order_shipped", "order_refunded", "payment_failed"];

/** The customer-facing outbox events; everything else (order.created, surplus captures, endpoint events) sends no email. */
export function templateFor(e: { event_type: string; payload: Record<string, unknown> }): Template | null {
  if (e.event_type === "payment.failed") return "payment_failed";
  if (e.event_type === "order.refunded_partially") return "order_refunded";
  if (e.event_type !== "order.status_changed") return null;
  switch (e.payload.to) {
    case "PAID":
      return "order_paid";
    case "SHIPPED":
      return "order_shipped";
    case "REFUNDED":
      return "order_refunded";
    default:
      return null;
  }
}

export interface OrderSummary {
  id: string;
  currency: string;
  total_cents: number;
  items: { sku: string; name: string; qty: number; line_total_cents: number }[];
  /** Part of the total (docs/shipping.md); absent or null when nothing ships. */
  shipping_cents?: number;
  shipping?: { service_name: string | null; carrier: string } | null;
}

export interface Rendered {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] as string);

/** Minor units in the currency's own precision (JPY has none), e.g. "$25.00". */
export function money(cents: number, currency: string): string {
  try {
    const f = new Intl.NumberFormat("en", { style: "currency", currency });
    return f.format(cents / 10 ** (f.resolvedOptions().maximumFractionDigits ?? 2));
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

const shortId = (id: string) => id.slice(0, 8).toUpperCase();

function lines(
  template: Template,
  order: OrderSummary,
  payload: Record<string, unknown>,
): { subject: string; intro: string; outro: string } {
  const ref = shortId(order.id);
  const total = money(order.total_cents, order.currency);
  switch (template) {
    case "order_paid":
      return {
        subject: `Order ${ref}: payment received`,
        intro: `We received your payment of ${total}. Thank you!`,
        outro: "We will let you know when it ships.",
      };
    case "order_shipped":
      return {
        subject: `Order ${ref} has shipped`,
        intro: "Good news: your order is on its way.",
        outro: "Thank you for shopping with us.",
      };
    case "order_refunded": {
      const refunded = typeof payload.amount_refunded_cents === "number" ? money(payload.amount_refunded_cents, order.currency) : total;
      const partial = payload.to !== "REFUNDED" && typeof payload.amount_refunded_cents === "number";
      return {
        subject: `Order ${ref}: ${partial ? "partial refund" : "refund"} issued`,
        intro: `We refunded ${refunded}${partial ? ` of ${total}` : ""} to your original payment method.`,
        outro: "It may take a few days to appear on your statement.",
      };
    }
    case "payment_failed":
      return {
        subject: `Order ${ref}: your payment did not go through`,
        intro: `Your payment of ${total} was declined or could not be completed. Nothing was charged.`,
        outro: "You can try again from your order page before it expires.",
      };
  }
}

/** Subject, plain text and HTML of one email; every value from the order or the event is escaped in the HTML. */
export function render(template: Template, order: OrderSummary, payload: Record<string, unknown>): Rendered {
  const { subject, intro, outro } = lines(template, order, payload);
  const items = order.items.map((i) => ({ label: `${i.qty} × ${i.name} (${i.sku})`, amount: money(i.line_total_cents, order.currency) }));
  // The total includes shipping: show it as a line, so the lines add up to the total.
  if (order.shipping) {
    const label = `Shipping (${order.shipping.service_name ?? order.shipping.carrier})`;
    items.push({ label, amount: money(order.shipping_cents ?? 0, order.currency) });
  }
  const total = money(order.total_cents, order.currency);
  const text = [
    "Hello,",
    "",
    intro,
    "",
    `Order ${order.id}`,
    ...items.map((i) => `  ${i.label}  ${i.amount}`),
    `  Total  ${total}`,
    "",
    outro,
    "",
    "— Toko",
  ].join("\n");
  const rows = items.map((i) => `<tr><td>${escapeHtml(i.label)}</td><td align="right">${escapeHtml(i.amount)}</td></tr>`).join("");
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>Hello,</p>
<p>${escapeHtml(intro)}</p>
<table cellpadding="4"><caption>Order ${escapeHtml(order.id)}</caption>${rows}<tr><th align="left">Total</th><th align="right">${escapeHtml(total)}</th></tr></table>
<p>${escapeHtml(outro)}</p>
<p>— Toko</p>
</body></html>`;
  return { subject, text, html };
}
