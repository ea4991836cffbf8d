/** Outbound webhook endpoints: list, create (the secret shown once), enable/disable, test, rotate, deliveries and retry. */
import { useState } from "preact/hooks";
import { api, fieldErrors } from "../api.ts";
import { navigate } from "../router.ts";
import type { Delivery, DeliveryPage, Endpoint, EndpointPage, EndpointWithSecret, EventType } from "../types.ts";
import {
  Badge,
  Dialog,
  Empty,
  ErrorNote,
  Field,
  Link,
  ListPager,
  Loading,
  PageTitle,
  problemText,
  TableWrap,
  Time,
  useConfirm,
  useCursor,
  useResource,
  useToast,
} from "../ui.tsx";

/** Every event type the API accepts (the Record makes a new one a type error until it is listed here). */
const EVENTS: Record<EventType, string> = {
  "order.created": "Order placed",
  "order.status_changed": "Order status changed",
  "order.refunded_partially": "Order partly refunded",
  "payment.failed": "Payment failed",
  "payment.refunded": "Payment refunded",
  "payment.surplus_captured": "Surplus capture",
  "webhook_endpoint.disabled": "Endpoint disabled",
};

function SecretDialog({ secret, onClose }: { secret: EndpointWithSecret | null; onClose: () => void }) {
  const toast = useToast();
  return (
    <Dialog title="Signing secret: shown once" open={!!secret} onClose={onClose} wide>
      <p>
        Store this secret in the receiving system now. It will not be shown again (rotate it to get a new one). Receivers verify each
        delivery's <code>webhook-signature</code> with it (Standard Webhooks).
      </p>
      <p>
        <code class="secret" data-testid="endpoint-secret">
          {secret?.secret}
        </code>
      </p>
      <div class="actions">
        <button
          type="button"
          class="secondary"
          onClick={() =>
            navigator.clipboard?.writeText(secret?.secret ?? "").then(
              () => toast("success", "Secret copied."),
              () => toast("error", "Copy failed: select the text and copy it."),
            )
          }
        >
          Copy
        </button>
        <button type="button" onClick={onClose}>
          I have stored it
        </button>
      </div>
    </Dialog>
  );
}

export function WebhooksPage() {
  const pages = useCursor("endpoints");
  const list = useResource(
    (signal) => api<EndpointPage>("/api/v1/admin/webhook-endpoints", { query: { limit: 20, cursor: pages.cursor }, signal }),
    pages.cursor ?? "",
  );
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<Set<string>>(new Set(["*"]));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<EndpointWithSecret | null>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();

  const toggle = (e: string) =>
    setEvents((s) => {
      const n = new Set(s);
      if (n.has(e)) n.delete(e);
      else n.add(e);
      return n;
    });

  const create = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    try {
      const ep = await api<EndpointWithSecret>("/api/v1/admin/webhook-endpoints", {
        method: "POST",
        body: { url: url.trim(), events: [...events], ...(description.trim() ? { description: description.trim() } : {}) },
      });
      setCreated(ep);
      setUrl("");
      setDescription("");
      list.reload();
      toast("success", "Endpoint created.");
    } catch (err) {
      setErrors(fieldErrors(err));
      setError(err);
      const { text, requestId } = problemText(err);
      toast("error", `Not created: ${text}`, requestId);
    } finally {
      setBusy(false);
    }
  };

  const rows = list.data?.data ?? [];
  return (
    <div>
      <PageTitle>Webhook endpoints</PageTitle>
      <ErrorNote error={list.error} retry={list.reload} />
      {list.loading && !list.data ? <Loading what="Loading endpoints" /> : null}
      {list.data && !rows.length ? <Empty>No endpoint yet: merchant systems subscribe to order and payment events here.</Empty> : null}
      {rows.length ? (
        <TableWrap label="Webhook endpoints">
          <table>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((ep) => (
                <tr key={ep.id}>
                  <td class="wrap">
                    <Link to={`/webhooks/${ep.id}`}>{ep.url}</Link>
                    {ep.description ? <div class="muted">{ep.description}</div> : null}
                  </td>
                  <td class="wrap">{ep.events.join(", ")}</td>
                  <td>
                    <Badge value={ep.enabled ? "enabled" : "disabled"} />
                    {ep.failing_since ? (
                      <div class="muted">
                        failing since <Time iso={ep.failing_since} />
                      </div>
                    ) : null}
                  </td>
                  <td>
                    <Time iso={ep.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <ListPager list={list} pages={pages} />

      <form class="card" onSubmit={create} aria-labelledby="new-ep-h">
        <h2 id="new-ep-h">New endpoint</h2>
        <Field label="URL" error={errors.url} hint="https, reachable from the internet (private addresses are refused)">
          {(id, d) => <input id={id} aria-describedby={d} type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />}
        </Field>
        <Field label="Description (optional)" error={errors.description}>
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              maxLength={500}
              value={description}
              onInput={(e) => setDescription(e.currentTarget.value)}
            />
          )}
        </Field>
        <fieldset class="checks">
          <legend>Events</legend>
          <label>
            <input type="checkbox" checked={events.has("*")} onChange={() => toggle("*")} />
            <span>
              Every event (<code>*</code>)
            </span>
          </label>
          {Object.entries(EVENTS).map(([e, text]) => (
            <label key={e}>
              <input type="checkbox" checked={events.has(e)} onChange={() => toggle(e)} />
              <span>
                {text} (<code>{e}</code>)
              </span>
            </label>
          ))}
          {errors.events ? <small class="field-error">{errors.events}</small> : null}
        </fieldset>
        {Object.keys(errors).length ? null : <ErrorNote error={error} />}
        <button type="submit" disabled={busy || !events.size}>
          Create endpoint
        </button>
      </form>
      <SecretDialog
        secret={created}
        onClose={() => {
          const id = created?.id;
          setCreated(null);
          if (id) navigate(`/webhooks/${id}`);
        }}
      />
    </div>
  );
}

function DeliveryRow({ d, onRetry, busy }: { d: Delivery; onRetry: (d: Delivery) => void; busy: boolean }) {
  return (
    <tr>
      <td>
        <span class="mono">{d.event_type}</span>
        <details>
          <summary>{d.attempt_log.length} attempt(s)</summary>
          <ol class="attempts">
            {d.attempt_log.map((a) => (
              <li key={a.attempt}>
                <Time iso={a.started_at} /> — {a.outcome}
                {a.response_status ? `, HTTP ${a.response_status}` : ""}, {a.duration_ms} ms{a.error ? `: ${a.error}` : ""}
                {a.response_body ? <pre class="payload">{a.response_body}</pre> : null}
              </li>
            ))}
          </ol>
        </details>
      </td>
      <td>
        <Badge value={d.status} />
      </td>
      <td class="num">{d.attempts}</td>
      <td>{d.last_status ?? "—"}</td>
      <td>
        <Time iso={d.next_attempt_at ?? d.delivered_at} />
      </td>
      <td>
        <Time iso={d.created_at} />
      </td>
      <td>
        <button
          type="button"
          class="small secondary"
          disabled={busy || d.status === "PENDING"}
          onClick={() => onRetry(d)}
          aria-label={`Retry delivery ${d.webhook_id}`}
        >
          Retry
        </button>
      </td>
    </tr>
  );
}

export function WebhookPage({ id }: { id: string }) {
  const ep = useResource((signal) => api<Endpoint>(`/api/v1/admin/webhook-endpoints/${id}`, { signal }), id);
  const [status, setStatus] = useState("");
  const pages = useCursor(status);
  const deliveries = useResource(
    (signal) =>
      api<DeliveryPage>(`/api/v1/admin/webhook-endpoints/${id}/deliveries`, {
        query: { status: status || undefined, limit: 20, cursor: pages.cursor },
        signal,
      }),
    `${id}|${status}|${pages.cursor ?? ""}`,
  );
  const [secret, setSecret] = useState<EndpointWithSecret | null>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const [confirm, confirmDialog] = useConfirm();

  const run = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await fn();
      toast("success", what);
      deliveries.reload();
    } catch (err) {
      const { text, requestId } = problemText(err);
      toast("error", text, requestId);
    } finally {
      setBusy(false);
    }
  };

  const e = ep.data;
  if (!e) return ep.error ? <ErrorNote error={ep.error} retry={ep.reload} /> : <Loading what="Loading the endpoint" />;
  const rows = deliveries.data?.data ?? [];
  return (
    <div>
      <p class="crumbs">
        <Link to="/webhooks">Webhook endpoints</Link> / endpoint
      </p>
      <PageTitle>{e.url}</PageTitle>
      <section class="card" aria-labelledby="ep-h">
        <h2 id="ep-h">Endpoint</h2>
        <dl class="kv">
          <div>
            <dt>State</dt>
            <dd>
              <Badge value={e.enabled ? "enabled" : "disabled"} />{" "}
              {e.disabled_reason ? <span class="muted">{e.disabled_reason}</span> : null}
            </dd>
          </div>
          <div>
            <dt>Events</dt>
            <dd>{e.events.join(", ")}</dd>
          </div>
          <div>
            <dt>Failing since</dt>
            <dd>
              <Time iso={e.failing_since} />
            </dd>
          </div>
          <div>
            <dt>Previous secret valid until</dt>
            <dd>
              <Time iso={e.previous_secret_expires_at} />
            </dd>
          </div>
        </dl>
        <div class="actions">
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() =>
              run(e.enabled ? "Endpoint disabled." : "Endpoint enabled.", async () =>
                ep.set(await api<Endpoint>(`/api/v1/admin/webhook-endpoints/${e.id}`, { method: "PATCH", body: { enabled: !e.enabled } })),
              )
            }
          >
            {e.enabled ? "Disable" : "Enable"}
          </button>
          <button
            type="button"
            class="secondary"
            disabled={busy || !e.enabled}
            onClick={() => run("Test ping queued.", () => api(`/api/v1/admin/webhook-endpoints/${e.id}/test`, { method: "POST" }))}
          >
            Send test ping
          </button>
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={async () => {
              if (!(await confirm("Rotate the signing secret? The old one keeps signing for 24 hours.", "Rotate"))) return;
              run("Secret rotated.", async () =>
                setSecret(await api<EndpointWithSecret>(`/api/v1/admin/webhook-endpoints/${e.id}/rotate-secret`, { method: "POST" })),
              );
            }}
          >
            Rotate secret
          </button>
        </div>
      </section>
      <section class="card" aria-labelledby="del-h">
        <h2 id="del-h">Deliveries</h2>
        <div class="filters">
          <Field label="Status">
            {(fid) => (
              <select id={fid} value={status} onChange={(ev) => setStatus(ev.currentTarget.value)}>
                <option value="">Any</option>
                <option value="PENDING">Pending</option>
                <option value="DELIVERED">Delivered</option>
                <option value="FAILED">Failed</option>
                <option value="CANCELLED">Cancelled</option>
              </select>
            )}
          </Field>
          <button type="button" class="secondary" onClick={deliveries.reload}>
            Reload
          </button>
        </div>
        <ErrorNote error={deliveries.error} retry={deliveries.reload} />
        {deliveries.loading && !deliveries.data ? <Loading what="Loading deliveries" /> : null}
        {deliveries.data && !rows.length ? <Empty>No delivery yet.</Empty> : null}
        {rows.length ? (
          <TableWrap label="Deliveries">
            <table>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Attempts
                  </th>
                  <th scope="col">Last HTTP</th>
                  <th scope="col">Next / delivered</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((d) => (
                  <DeliveryRow
                    key={d.id}
                    d={d}
                    busy={busy}
                    onRetry={(x) => run("Retry queued.", () => api(`/api/v1/admin/webhook-deliveries/${x.id}/retry`, { method: "POST" }))}
                  />
                ))}
              </tbody>
            </table>
          </TableWrap>
        ) : null}
        <ListPager list={deliveries} pages={pages} />
      </section>
      <SecretDialog secret={secret} onClose={() => setSecret(null)} />
      {confirmDialog}
    </div>
  );
}
