/** Zod failures as RFC 9457 field errors. */
import type { ZodError } from "zod";
import { ApiError, type FieldError } from "./problem.ts";

const WHERE: Record<string, FieldError["in"]> = { query: "query", param: "path", json: "body", header: "header" };

export function toFieldErrors(error: ZodError, target: string): FieldError[] {
  const where = WHERE[target] ?? "body";
  return error.issues.flatMap((i): FieldError[] => {
    if (i.code === "unrecognized_keys") {
      return i.keys.map((k) => ({
        field: [...i.path, k].join("."),
        in: where,
        code: "unknown_field",
        message: "is not a recognised field",
      }));
    }
    return [{ field: i.path.join(".") || "(root)", in: where, code: i.code, message: i.message }];
  });
}

/** The defaultHook of every OpenAPIHono router: invalid input becomes a 400 problem. */
export function validationHook(result: { success: boolean; target: string; error?: unknown }): void {
  if (!result.success) {
    const errors = toFieldErrors(result.error as ZodError, result.target);
    throw new ApiError("validation_error", `${errors.length} invalid field${errors.length === 1 ? "" : "s"}.`, { errors });
  }
}
