/** ADMIN: roles, sessions and sign-in lockouts of accounts (auth applied in app.ts; guards from src/guards). */
import { createRoute } from "@hono/zod-openapi";
import { UserIdParamSchema } from "../schemas/auth.ts";
import { authResponses, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import { AccountLookupQuerySchema, AccountLookupSchema, AccountUnlockSchema, AdminUserSchema, RoleChangeSchema } from "../schemas/users.ts";
import { lookupAccounts, revokeSessions, setRole, unlockAccount } from "../services/auth.service.ts";
import { createRouter } from "./router.ts";

const security = [{ bearerAuth: [] }];

export const adminUsersRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "adminFindUsers",
      tags: ["Admin"],
      summary: "Find accounts by email, with their sign-in lock state",
      security,
      request: { query: AccountLookupQuerySchema },
      responses: {
        200: { description: "Matching accounts", content: jsonContent(AccountLookupSchema) },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) =>
      c.json(await lookupAccounts(await c.get("dbFresh").orm(), c.req.valid("query").email), 200, { "Cache-Control": "private, no-store" }),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/{id}",
      operationId: "adminSetUserRole",
      tags: ["Admin"],
      summary: "Change an account's role (revokes its tokens)",
      description:
        "`ADMIN` or `USER`. A change bumps the account's token version: its existing tokens are refused (401) and it signs in again. The same role again changes nothing. The last ADMIN cannot be demoted (`409 last_admin`).",
      security,
      request: { params: UserIdParamSchema, body: { required: true, content: jsonContent(RoleChangeSchema) } },
      responses: {
        200: { description: "The account", content: jsonContent(AdminUserSchema) },
        ...authResponses,
        409: problem("The last ADMIN cannot be demoted"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { role } = c.req.valid("json");
      const res = await setRole(await c.get("dbFresh").orm(), id, role);
      if (res.changed) c.get("log").info("role changed", { component: "auth", user_id: res.user.id, role, by: c.get("principal").userId });
      return c.json(res.user, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{id}/revoke-sessions",
      operationId: "adminRevokeUserSessions",
      tags: ["Admin"],
      summary: "Revoke every access token of an account",
      description: "Bumps the account's token version: every token issued before is refused (401); signing in again works.",
      security,
      request: { params: UserIdParamSchema },
      responses: { 200: { description: "The account", content: jsonContent(AdminUserSchema) }, ...authResponses, ...problemResponses },
    }),
    async (c) => {
      const user = await revokeSessions(await c.get("dbFresh").orm(), c.req.valid("param").id);
      c.get("log").info("sessions revoked", { component: "auth", user_id: user.id, by: c.get("principal").userId });
      return c.json(user, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{id}/unlock",
      operationId: "adminUnlockUser",
      tags: ["Admin"],
      summary: "Clear an account's failed sign-ins and lockout",
      description:
        "For support staff: deletes the account's failed-login counter, so it can sign in at once. Per-client (IP) counters are left alone.",
      security,
      request: { params: UserIdParamSchema },
      responses: { 200: { description: "Cleared", content: jsonContent(AccountUnlockSchema) }, ...authResponses, ...problemResponses },
    }),
    async (c) => {
      const res = await unlockAccount(await c.get("dbFresh").orm(), c.req.valid("param").id);
      c.get("log").info("account unlocked", { component: "auth", user_id: res.id, cleared: res.cleared, by: c.get("principal").userId });
      return c.json(res, 200);
    },
  );
