/** Queue: webhook-event stats, dead letters with their payload, replay one or every one since a time. */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import type { DeadLetter, Page } from "../types.ts";
import {
  Badge,
  Empty,
  ErrorNote,
  Field,
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

/** `oldest_pending_age_sec` → "Oldest pending age (s)", `dlq_size` → "DLQ size". */
const label = (k: string) => {
  const t = k
    .replace(/_sec$/, " (s)")
    .replace(/_/g, " ")
    .replace(/\bdlq\b/, "DLQ");
  return t.charAt(0).toUpperCase() + t.slice(1);
};

export function QueuePage() {
  const stats = useResource((signal) => api<Record<string, number | null>>("/api/v1/admin/queue/stats", { signal }), "stats");
  const [status, setStatus] = useState("DEAD");
  const pages = useCursor(status);
  const dlq = useResource(
    (signal) =>
      api<Page<DeadLetter>>("/api/v1/admin/queue/dlq", { query: { status: status || undefined, limit: 20, cursor: pages.cursor }, signal }),
    `${status}|${pages.cursor ?? ""}`,
  );
  const [since, setSince] = useState("");
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const [confirm, confirmDialog] = useConfirm();

  const after = () => {
    dlq.reload();
    stats.reload();
  };
  const replayOne = async (d: DeadLetter) => {
    setBusy(true);
    try {
      await api<DeadLetter>(`/api/v1/admin/queue/dlq/${d.id}/replay`, { method: "POST" });
      toast("success", `Dead letter ${d.message_key} sent back to ${d.queue}.`);
      after();
    } catch (err) {
      const { text, requestId } = problemText(err);
      toast("error", `Not replayed: ${text}`, requestId);
    } finally {
      setBusy(false);
    }
  };
  const replaySince = async (e: Event) => {
    e.preventDefault();
    const at = new Date(since);
    if (Number.isNaN(at.getTime())) return;
    if (!(await confirm(`Replay every dead letter last seen since ${at.toLocaleString()}?`, "Replay"))) return;
    setBusy(true);
    try {
      const res = await api<{ replayed: number }>("/api/v1/admin/queue/dlq/replay", { method: "POST", body: { since: at.toISOString() } });
      toast("success", `${res.replayed} dead letter(s) sent back to their queues.`);
      after();
    } catch (err) {
      const { text, requestId } = problemText(err);
      toast("error", `Not replayed: ${text}`, requestId);
    } finally {
      setBusy(false);
    }
  };

  const rows = dlq.data?.data ?? [];
  return (
    <div>
      <PageTitle>Queue and dead letters</PageTitle>
      <section class="card" aria-labelledby="stats-h">
        <h2 id="stats-h">Payment events</h2>
        <ErrorNote error={stats.error} retry={stats.reload} />
        {stats.loading && !stats.data ? <Loading what="Loading queue stats" /> : null}
        {stats.data ? (
          <dl class="kv stats">
            {Object.entries(stats.data).map(([k, v]) => (
              <div key={k}>
                <dt>{label(k)}</dt>
                <dd>{v ?? "—"}</dd>
              </div>
            ))}
          </dl>
        ) : null}
      </section>

      <section class="card" aria-labelledby="dlq-h">
        <h2 id="dlq-h">Dead letters</h2>
        <div class="filters">
          <Field label="Show">
            {(id) => (
              <select id={id} value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
                <option value="DEAD">Dead (not replayed)</option>
                <option value="REPLAYED">Replayed</option>
                <option value="">All</option>
              </select>
            )}
          </Field>
          <form class="inline" onSubmit={replaySince} aria-label="Replay since">
            <Field label="Replay every dead letter last seen since">
              {(id) => <input id={id} type="datetime-local" required value={since} onInput={(e) => setSince(e.currentTarget.value)} />}
            </Field>
            <button type="submit" class="secondary" disabled={busy || !since}>
              Replay since
            </button>
          </form>
        </div>
        <ErrorNote error={dlq.error} retry={dlq.reload} />
        {dlq.loading && !dlq.data ? <Loading what="Loading dead letters" /> : null}
        {dlq.data && !rows.length ? <Empty>No dead letters here. Good.</Empty> : null}
        {rows.length ? (
          <TableWrap label="Dead letters">
            <table aria-busy={dlq.loading}>
              <thead>
                <tr>
                  <th scope="col">Message</th>
                  <th scope="col">Queue</th>
                  <th scope="col" class="num">
                    Attempts
                  </th>
                  <th scope="col">Last error</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <span class="mono">{d.message_key}</span>
                      <details>
                        <summary>Payload</summary>
                        <pre class="payload">{JSON.stringify(d.body, null, 2)}</pre>
                      </details>
                    </td>
                    <td>{d.queue}</td>
                    <td class="num">{d.attempts}</td>
                    <td class="wrap">{d.last_error ?? "—"}</td>
                    <td>
                      <Time iso={d.last_seen_at} />
                    </td>
                    <td>
                      <Badge value={d.status} />
                      {d.replayed_at ? (
                        <div class="muted">
                          <Time iso={d.replayed_at} />
                        </div>
                      ) : null}
                    </td>
                    <td>
                      <button
                        type="button"
                        class="small"
                        disabled={busy}
                        onClick={() => replayOne(d)}
                        aria-label={`Replay ${d.message_key}`}
                      >
                        Replay
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ) : null}
        <ListPager list={dlq} pages={pages} />
      </section>
      {confirmDialog}
    </div>
  );
}
