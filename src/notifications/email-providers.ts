/**
 * Email provider adapters. `sandbox` sends nothing: the rendered message is stored with the
 * notification (GET /api/v1/admin/notifications). `resend` posts to Resend's HTTP API over fetch,
 * with the notification's id as its Idempotency-Key, so a retry after a lost answer is not a second email.
 */
import { withTimeout } from "../lib/timeout.ts";

export interface EmailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable per notification: the provider sends one email per key. */
  idempotencyKey: string;
}

export interface SendResult {
  messageId: string | null;
  /** The sandbox keeps the rendered message; real providers keep nothing here. */
  stored?: { subject: string; text: string; html: string };
}

export interface EmailProvider {
  readonly name: "sandbox" | "resend";
  send(m: EmailMessage): Promise<SendResult>;
}

/** A failure worth retrying (network, timeout, 429, 5xx) vs one that will not get better (a 4xx). */
export class EmailError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = "EmailError";
    this.retryable = retryable;
  }
}

export const sandboxEmail: EmailProvider = {
  name: "sandbox",
  async send(m) {
    return { messageId: `sbx_${m.idempotencyKey}`, stored: { subject: m.subject, text: m.text, html: m.html } };
  },
};

export function resendEmail(opts: { apiKey: string; apiBase: string; timeoutMs: number }): EmailProvider {
  return {
    name: "resend",
    async send(m) {
      let res: Response;
      try {
        res = await withTimeout(
          fetch(`${opts.apiBase.replace(/\/$/, "")}/emails`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${opts.apiKey}`,
              "content-type": "application/json",
              "idempotency-key": m.idempotencyKey,
            },
            body: JSON.stringify({ from: m.from, to: [m.to], subject: m.subject, text: m.text, html: m.html }),
            redirect: "manual",
          }),
          opts.timeoutMs,
          "email provider",
        );
      } catch (err) {
        throw new EmailError(`resend: ${err instanceof Error ? err.message : "network error"}`, true);
      }
      if (!res.ok) {
        const detail = (await res.text().catch(() => "")).slice(0, 200);
        throw new EmailError(`resend answered ${res.status}: ${detail}`, res.status === 409 || res.status === 429 || res.status >= 500);
      }
      const body = (await res.json().catch(() => ({}))) as { id?: unknown };
      return { messageId: typeof body.id === "string" ? body.id : null };
    },
  };
}
