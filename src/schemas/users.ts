/** Account management: password change (the caller) and role, sessions and lockout (ADMIN). */
import { z } from "@hono/zod-openapi";
import { userRole } from "../db/schema.ts";
import { UserSchema } from "./auth.ts";

export const PasswordChangeSchema = z
  .object({
    current_password: z.string().min(1).max(1024).openapi({ format: "password", example: "correct horse battery" }),
    new_password: z.string().min(1).max(1024).openapi({
      format: "password",
      example: "a new long passphrase",
      description: "The signup policy: 10–128 characters, not a common one",
    }),
  })
  .strict()
  .openapi("PasswordChange");

export const RoleChangeSchema = z
  .object({ role: z.enum(userRole.enumValues) })
  .strict()
  .openapi("RoleChange");

export const AdminUserSchema = UserSchema.extend({
  token_version: z
    .number()
    .int()
    .openapi({ description: "Bumped by every role change, password change and revoke-sessions: older tokens are refused" }),
}).openapi("AdminUser");

export const AccountUnlockSchema = z
  .object({
    id: z.string().uuid(),
    email: z.string(),
    cleared: z.boolean().openapi({ description: "Whether the account had failed sign-ins or a lock to clear" }),
  })
  .openapi("AccountUnlock");

export const AccountLookupQuerySchema = z
  .object({
    email: z
      .string()
      .trim()
      .min(3)
      .max(254)
      .openapi({ param: { name: "email", in: "query" }, description: "The email or a part of it (case-insensitive); exact match first" }),
  })
  .strict();

export const AccountLookupSchema = z
  .object({
    data: z.array(
      AdminUserSchema.extend({
        failed_logins: z.number().int().openapi({ description: "Failed sign-ins counted against the account now" }),
        locked_until: z.string().nullable().openapi({ format: "date-time", description: "Set while sign-in is locked" }),
      }),
    ),
  })
  .openapi("AccountLookup", { description: "At most 20 accounts" });
