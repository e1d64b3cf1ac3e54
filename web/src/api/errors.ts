/** The api's error body `{"error": {"code", "message", "field"?}}` as an exception. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    readonly retryAfterSeconds: number | null = null,
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
    return this.message;
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
  try {
    const body: unknown = await response.json();
    const detail = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } }).error;
    if (detail && typeof detail === "object") {
      if (typeof detail.code === "string") code = detail.code;
      if (typeof detail.message === "string") message = detail.message;
      if (typeof detail.field === "string") field = detail.field;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message, field, retryAfter);
}

/** `password: String should have at least 8 characters` -> `Password should have at least 8 characters`. */
export function fieldMessage(error: ApiError): string {
  let text = error.message;
  if (error.field && text.startsWith(`${error.field}: `)) text = text.slice(error.field.length + 2);
  text = text.replace(/^Value error, /, "").replace(/^String should/, "Should");
  if (error.field === "email" && /email/i.test(text) === false) text = `Enter a valid email address (${text})`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
