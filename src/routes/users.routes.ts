/** The caller's own account (and password); other accounts only for ADMIN (others' ids are 404). */
import { createRoute } from "@hono/zod-openapi";
import { clientIpKey } from "../lib/client-ip.ts";
import { TokenSchema, UserIdParamSchema, UserSchema } from "../schemas/auth.ts";
import { authResponses, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import { PasswordChangeSchema } from "../schemas/users.ts";
import { changePassword, readAccount } from "../services/auth.service.ts";
import { createRouter } from "./router.ts";

export const usersRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/me",
      operationId: "getMe",
      tags: ["Accounts"],
      summary: "The authenticated account",
      security: [{ bearerAuth: [] }],
      responses: { 200: { description: "Your account", content: jsonContent(UserSchema) }, ...authResponses, ...problemResponses },
    }),
    async (c) => c.json(await readAccount(await c.get("dbFresh").orm(), c.get("principal"), c.get("principal").userId), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/me/password",
      operationId: "changeMyPassword",
      tags: ["Accounts"],
      summary: "Change your password; every other token is revoked",
      description:
        "`new_password` follows the signup policy. A wrong `current_password` is a `400` and counts as a failed sign-in (same counters and lock as login: `429` with Retry-After). On success the account's token version is bumped, so every token issued before (this one included) is refused, and a fresh token is returned.",
      security: [{ bearerAuth: [] }],
      request: { body: { required: true, content: jsonContent(PasswordChangeSchema) } },
      responses: {
        200: { description: "A fresh Bearer access token", content: jsonContent(TokenSchema) },
        ...authResponses,
        429: problem("Too many failed attempts"),
        ...problemResponses,
      },
    }),
    async (c) => {
      const { current_password, new_password } = c.req.valid("json");
      const client = clientIpKey(c.req.header("cf-connecting-ip"));
      const db = await c.get("dbFresh").orm();
      const token = await changePassword(db, c.get("config"), c.get("principal"), current_password, new_password, client);
      c.get("log").info("password changed", { component: "auth", user_id: c.get("principal").userId });
      return c.json(token, 200, { "Cache-Control": "no-store" });
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      operationId: "getUser",
      tags: ["Accounts"],
      summary: "An account by id (yours, or any for ADMIN)",
      security: [{ bearerAuth: [] }],
      request: { params: UserIdParamSchema },
      responses: { 200: { description: "The account", content: jsonContent(UserSchema) }, ...authResponses, ...problemResponses },
    }),
    async (c) => c.json(await readAccount(await c.get("dbFresh").orm(), c.get("principal"), c.req.valid("param").id), 200),
  );
