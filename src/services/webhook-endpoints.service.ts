/**
 * ADMIN management of outbound webhook endpoints: register (URL checked against SSRF rules, a
 * `whsec_` secret generated and shown once), list, update, delete, rotate the secret (the old one
 * keeps signing for WEBHOOK_SECRET_GRACE_SEC), send a ping, read the delivery log, retry one
 * delivery, replay everything since a time.
 */
import type { WebhookDeliveryMessage } from "../../queues/messages.ts";
import type { Config } from "../config.ts";
import type { Drizzle } from "../db/client.ts";
import { type DeliveryRow, getDelivery, insertPing, listDeliveries, replayEndpoint, resetDelivery } from "../db/webhook-deliveries.repo.ts";
import {
  deleteEndpoint,
  type EndpointRow,
  getEndpoint,
  insertEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from "../db/webhook-endpoints.repo.ts";
import { keysetPage, PG_TIMESTAMP, readKeyset } from "../lib/cursor.ts";
import { b64 } from "../lib/encoding.ts";
import { ApiError } from "../lib/problem.ts";
import { assertPublicUrl, DnsUnavailableError, UrlRefusedError } from "../lib/ssrf.ts";
import { sendAll } from "./outbox-fanout.service.ts";
import { urlPolicy, webhookId } from "./webhook-request.ts";

export type EndpointConfig = Pick<Config, "ENVIRONMENT" | "WEBHOOK_ALLOW_LOOPBACK" | "WEBHOOK_DOH_URL" | "WEBHOOK_SECRET_GRACE_SEC">;

export interface EndpointDto {
  id: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: string | null;
  failing_since: string | null;
  /** While the previous secret still signs (after a rotation). */
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export const toEndpointDto = (r: EndpointRow): EndpointDto => ({
  id: r.id,
  url: r.url,
  description: r.description,
  events: r.events,
  enabled: r.enabled,
  disabled_reason: r.disabled_reason,
  disabled_at: r.disabled_at,
  failing_since: r.failing_since,
  previous_secret_expires_at: r.previous_secret_expires_at,
  created_at: r.created_at,
  updated_at: r.updated_at,
});

/** `whsec_` + base64 of 32 random bytes (Standard Webhooks accepts 24–64). */
export function newSecret(): string {
  return `whsec_${b64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** The registration check: the same rules as before every attempt, with a fresh resolution. */
export async function checkEndpointUrl(cfg: EndpointConfig, url: string): Promise<void> {
  try {
    await assertPublicUrl(url, urlPolicy(cfg), { dohUrl: cfg.WEBHOOK_DOH_URL, timeoutMs: 3000 });
  } catch (err) {
    if (err instanceof UrlRefusedError) {
      throw new ApiError("url_not_allowed", `This URL cannot receive webhooks: ${err.reason}.`, { extra: { reason: err.reason } });
    }
    if (err instanceof DnsUnavailableError) {
      throw new ApiError("dns_unavailable", "The URL's host could not be resolved right now; retry shortly.", {
        headers: { "Retry-After": "5" },
      });
    }
    throw err;
  }
}

const notFound = () => new ApiError("not_found", "No webhook endpoint with that id.");

export async function createEndpoint(
  db: Drizzle,
  cfg: EndpointConfig,
  input: { url: string; events: string[]; description?: string | undefined; enabled?: boolean | undefined },
): Promise<EndpointDto & { secret: string }> {
  await checkEndpointUrl(cfg, input.url);
  const secret = newSecret();
  const row = await insertEndpoint(db, {
    url: input.url,
    description: input.description ?? "",
    events: [...new Set(input.events)],
    enabled: input.enabled ?? true,
    secret,
  });
  return { ...toEndpointDto(row), secret };
}

export async function readEndpoint(db: Drizzle, id: string): Promise<EndpointDto> {
  const row = await getEndpoint(db, id);
  if (!row) throw notFound();
  return toEndpointDto(row);
}

export async function endpointPage(db: Drizzle, secret: string, q: { limit?: number | undefined; cursor?: string | undefined }) {
  const scope = JSON.stringify(["webhook-endpoints"]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
  const limit = q.limit ?? 20;
  const rows = await listEndpoints(db, pos && { createdAt: pos.key, id: pos.id }, limit);
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.created_at_key }, toEndpointDto);
}

export async function patchEndpoint(
  db: Drizzle,
  cfg: EndpointConfig,
  id: string,
  p: { url?: string | undefined; events?: string[] | undefined; description?: string | undefined; enabled?: boolean | undefined },
  actor: string,
): Promise<EndpointDto> {
  if (p.url !== undefined) await checkEndpointUrl(cfg, p.url);
  const row = await updateEndpoint(db, id, { ...p, events: p.events && [...new Set(p.events)] }, `disabled by an admin (${actor})`);
  if (!row) throw notFound();
  return toEndpointDto(row);
}

export async function removeEndpoint(db: Drizzle, id: string): Promise<void> {
  if (!(await deleteEndpoint(db, id))) throw notFound();
}

export async function rotateEndpointSecret(db: Drizzle, cfg: EndpointConfig, id: string): Promise<EndpointDto & { secret: string }> {
  const secret = newSecret();
  const row = await rotateSecret(db, id, secret, cfg.WEBHOOK_SECRET_GRACE_SEC);
  if (!row) throw notFound();
  return { ...toEndpointDto(row), secret };
}

const disabledProblem = () => new ApiError("webhook_endpoint_disabled", "The endpoint is disabled; enable it (PATCH enabled: true) first.");

/** Queues a `ping` to the endpoint through the normal delivery path (signed, logged, retried). */
export async function pingEndpoint(db: Drizzle, queue: Pick<Queue<WebhookDeliveryMessage>, "sendBatch">, id: string) {
  const ep = await getEndpoint(db, id);
  if (!ep) throw notFound();
  if (!ep.enabled) throw disabledProblem();
  const deliveryId = await insertPing(db, id, { endpoint_id: id, message: "ping from Toko: this endpoint receives webhooks" });
  await sendAll(queue, [{ kind: "webhook-delivery", delivery_id: deliveryId }]);
  return { delivery_id: deliveryId, webhook_id: webhookId(deliveryId) };
}

export type DeliveryDto = Omit<DeliveryRow, "created_at_key" | "attempt_log"> & { attempt_log: DeliveryRow["attempt_log"] };

const toDeliveryDto = ({ created_at_key: _k, ...rest }: DeliveryRow): DeliveryDto => rest;

export async function deliveryPage(
  db: Drizzle,
  secret: string,
  endpointId: string,
  q: { status?: string | undefined; limit?: number | undefined; cursor?: string | undefined },
) {
  if (!(await getEndpoint(db, endpointId))) throw notFound();
  const scope = JSON.stringify(["webhook-deliveries", endpointId, q.status ?? ""]);
  const pos = await readKeyset(secret, scope, q.cursor, PG_TIMESTAMP);
  const limit = q.limit ?? 20;
  const rows = await listDeliveries(db, endpointId, { status: q.status }, pos && { createdAt: pos.key, id: pos.id }, limit);
  return keysetPage(rows, limit, { secret, scope, keyOf: (r) => r.created_at_key }, toDeliveryDto);
}

/** One more attempt now (and the rest of the schedule, if any is left); same `webhook-id`. */
export async function retryDelivery(
  db: Drizzle,
  queue: Pick<Queue<WebhookDeliveryMessage>, "sendBatch">,
  id: string,
): Promise<DeliveryDto> {
  const state = await resetDelivery(db, id);
  if (state === "missing") throw new ApiError("not_found", "No webhook delivery with that id.");
  if (state === "disabled") throw disabledProblem();
  if (state === "in_flight") {
    throw new ApiError("delivery_in_progress", "An attempt of this delivery is in progress; look again in a few seconds.", {
      headers: { "Retry-After": "15" },
    });
  }
  await sendAll(queue, [{ kind: "webhook-delivery", delivery_id: id }]);
  return toDeliveryDto((await getDelivery(db, id)) as DeliveryRow);
}

/** Everything since `since` the endpoint did not get, delivered again (at most 1,000 per call; call again for more). */
export async function replayEndpointSince(
  db: Drizzle,
  queue: Pick<Queue<WebhookDeliveryMessage>, "sendBatch">,
  id: string,
  since: string,
): Promise<{ replayed: number }> {
  const ids = await replayEndpoint(db, id, since, 1000);
  if (ids === null) {
    if (await getEndpoint(db, id)) throw disabledProblem();
    throw notFound();
  }
  await sendAll(
    queue,
    ids.map((d) => ({ kind: "webhook-delivery" as const, delivery_id: d })),
  );
  return { replayed: ids.length };
}
