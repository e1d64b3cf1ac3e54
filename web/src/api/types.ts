/** The api's shapes, as the design notes name them. */

export interface User {
  id: string;
  email: string;
  display_name: string;
  created_at: string;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: "bearer";
  expires_in: number;
}

export interface AuthSession extends TokenPair {
  user: User;
}

export interface Chat {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
}

export type Role = "user" | "assistant";

export interface Message {
  id: string;
  chat_id: string;
  role: Role;
  content: string;
  status: "complete" | "incomplete";
  /** An answer's: "length" when the token limit cut it (it can be continued). */
  finish_reason: FinishReason | null;
  created_at: string;
}

export type FinishReason = "stop" | "length";

export type GenerationStatus = "queued" | "streaming" | "succeeded" | "failed" | "canceled";

export interface Generation {
  id: string;
  chat_id: string;
  status: GenerationStatus;
  assistant_message_id: string | null;
  model: string;
  created_at: string;
  finished_at: string | null;
  usage: { prompt_tokens: number; completion_tokens: number } | null;
  error: { code: string; message: string } | null;
  finish_reason: FinishReason | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The longest message the api takes (MAX_MESSAGE_CHARS of its schemas). */
export const MAX_MESSAGE_CHARS = 32_000;

export const TERMINAL: ReadonlySet<GenerationStatus> = new Set(["succeeded", "failed", "canceled"]);
