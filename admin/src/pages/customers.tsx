/** Customers (support): find accounts by email, see sign-in locks, unlock, revoke sessions. */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { href, navigate } from "../router.ts";
import type { AccountLookup, AccountUnlock, AdminUser } from "../types.ts";
import {
  Badge,
  Empty,
  ErrorNote,
  Field,
  Link,
  Loading,
  PageTitle,
  problemText,
  TableWrap,
  Time,
  useConfirm,
  useResource,
  useToast,
} from "../ui.tsx";

export function CustomersPage({ query }: { query: URLSearchParams }) {
  const email = query.get("email") ?? "";
  const [draft, setDraft] = useState(email);
  const found = useResource(
    (signal) =>
      email.trim().length >= 3
        ? api<AccountLookup>("/api/v1/admin/users", { query: { email: email.trim() }, signal })
        : Promise.resolve(null),
    email,
  );
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const [confirm, confirmDialog] = useConfirm();

  const act = async (text: string, fn: () => Promise<string>) => {
    setBusy(true);
    try {
      toast("success", await fn());
      found.reload();
    } catch (err) {
      const { text: t, requestId } = problemText(err);
      toast("error", `${text}: ${t}`, requestId);
    } finally {
      setBusy(false);
    }
  };
  const unlock = (id: string, mail: string) =>
    act("Not unlocked", async () => {
      const r = await api<AccountUnlock>(`/api/v1/admin/users/${id}/unlock`, { method: "POST" });
      return r.cleared ? `${mail} can sign in again: failed sign-ins cleared.` : `${mail} had no failed sign-ins to clear.`;
    });
  const revoke = async (id: string, mail: string) => {
    if (!(await confirm(`Sign ${mail} out everywhere? Every access token of the account stops working at once.`, "Revoke sessions")))
      return;
    await act("Not revoked", async () => {
      await api<AdminUser>(`/api/v1/admin/users/${id}/revoke-sessions`, { method: "POST" });
      return `Every session of ${mail} was revoked.`;
    });
  };

  const rows = found.data?.data ?? [];
  return (
    <div>
      <PageTitle>Customers</PageTitle>
      <form
        class="filters card"
        aria-label="Find customers"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href("/customers", { email: draft.trim() }));
        }}
      >
        <Field label="Email" hint="The whole address or a part of it (at least 3 characters)">
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              type="search"
              minLength={3}
              required
              value={draft}
              onInput={(e) => setDraft(e.currentTarget.value)}
            />
          )}
        </Field>
        <div class="actions">
          <button type="submit">Find</button>
        </div>
      </form>
      <ErrorNote error={found.error} retry={found.reload} />
      {found.loading && email ? <Loading what="Searching" /> : null}
      {!email ? <Empty>Search for a customer by email.</Empty> : null}
      {found.data && !rows.length ? <Empty>No account matches “{email}”.</Empty> : null}
      {rows.length ? (
        <TableWrap label="Accounts">
          <table>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Since</th>
                <th scope="col">Sign-in</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((u) => (
                <tr key={u.id}>
                  <td>
                    {u.email}
                    <div>
                      <Link to={href("/orders", { q: u.email })}>Orders</Link>
                    </div>
                  </td>
                  <td>
                    <Badge value={u.role} />
                  </td>
                  <td>
                    <Time iso={u.created_at} />
                  </td>
                  <td>
                    {u.locked_until ? (
                      <>
                        <Badge value="locked" /> until <Time iso={u.locked_until} />
                      </>
                    ) : (
                      "open"
                    )}
                    {u.failed_logins ? <div class="muted">{u.failed_logins} failed sign-in(s)</div> : null}
                  </td>
                  <td class="actions">
                    <button
                      type="button"
                      class="small secondary"
                      disabled={busy}
                      onClick={() => unlock(u.id, u.email)}
                      aria-label={`Unlock ${u.email}`}
                    >
                      Unlock
                    </button>
                    <button
                      type="button"
                      class="small danger"
                      disabled={busy}
                      onClick={() => revoke(u.id, u.email)}
                      aria-label={`Revoke sessions of ${u.email}`}
                    >
                      Revoke sessions
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      {confirmDialog}
    </div>
  );
}
