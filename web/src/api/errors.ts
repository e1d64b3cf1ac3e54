/** The api's error body `{"error": {"code", "message", "field"?}}` as an exception. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    readonly retryAfterSeconds: number | null = null,
    /** The body's other fields: `generation_id` of a 409, `errors` (every field's) of a 422. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** A sentence for people, not for logs. */
  get friendly(): string {
    if (this.status === 429) {
      const wait = this.retryAfterSeconds;
      return wait ? `Too many attempts. Try again in ${formatWait(wait)}.` : "Too many attempts. Try again later.";
    }
    if (this.status === 0) return "Cannot reach MiniChat. Check your connection and try again.";
    if (this.status >= 500) return "Something went wrong on our side. Please try again.";
    if (this.status === 413) return "This message is too large to send.";
    if (this.status === 422 && this.field === "content") {
      const limit = /at most (\d+)/.exec(this.message)?.[1];
      return limit
        ? `Your message is too long: at most ${Number(limit).toLocaleString("en")} characters. Shorten it and send again.`
        : "Your message cannot be sent as it is. Check it and try again.";
    }
    if (this.status === 422 && this.field) {
      const what = this.field.charAt(0).toUpperCase() + this.field.slice(1).replace(/_/g, " ");
      const problem = fieldMessage(this);
      return problem.startsWith("Should") ? `${what} s${problem.slice(1)}.` : `${what}: ${problem}`;
    }
    return this.message;
  }

  /** The id of the answer already running, of a 409 `generation_in_progress`. */
  get runningGenerationId(): string | null {
    const id = this.details.generation_id;
    return typeof id === "string" ? id : null;
  }

  /** Every field's message of a 422, by field (the api names them all at once). */
  get fieldMessages(): Record<string, string> {
    const out: Record<string, string> = {};
    const errors = Array.isArray(this.details.errors) ? this.details.errors : [];
    for (const item of errors as { field?: unknown; message?: unknown }[]) {
      if (typeof item.field !== "string" || typeof item.message !== "string" || item.field in out) continue;
      out[item.field] = fieldMessage(new ApiError(422, this.code, item.message, item.field));
    }
    if (this.field && !(this.field in out)) out[this.field] = fieldMessage(this);
    return out;
  }
}

export function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} min`;
}

/** Reads an error response; tolerates bodies that are not ours (a proxy's HTML page, say). */
export async function errorOf(response: Response): Promise<ApiError> {
  const retry = Number(response.headers.get("Retry-After"));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
  let code = `http_${response.status}`;
  let message = response.statusText || `request failed (${response.status})`;
  let field: string | null = null;
  let details: Record<string, unknown> = {};
  try {
    const body: unknown = await response.json();
    const detail = (body as { error?: Record<string, unknown> }).error;
    if (detail && typeof detail === "object") {
      const { code: c, message: m, field: f, ...rest } = detail;
      if (typeof c === "string") code = c;
      if (typeof m === "string") message = m;
      if (typeof f === "string") field = f;
      details = rest;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message, field, retryAfter, details);
}

/** `password: String should have at least 8 characters` -> `Password should have at least 8 characters`. */
export function fieldMessage(error: ApiError): string {
  let text = error.message;
  if (error.field && text.startsWith(`${error.field}: `)) text = text.slice(error.field.length + 2);
  text = text.replace(/^Value error, /, "").replace(/^String should/, "Should");
  if (error.field === "email" && /email/i.test(text) === false) text = `Enter a valid email address (${text})`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
