/**
 * The thread as people read it: each user message, then its answer. Regenerating appends
 * another assistant message after the first, so consecutive answers are versions of one turn.
 */
import type { Message } from "../api/types";

export type Turn =
  | { kind: "user"; key: string; message: Message }
  | { kind: "assistant"; key: string; versions: Message[] };

export function buildTurns(messages: readonly Message[]): Turn[] {
  const turns: Turn[] = [];
  for (const message of messages) {
    const last = turns[turns.length - 1];
    if (message.role === "assistant") {
      if (last?.kind === "assistant") last.versions.push(message);
      else turns.push({ kind: "assistant", key: message.id, versions: [message] });
    } else {
      turns.push({ kind: "user", key: message.id, message });
    }
  }
  return turns;
}

/** A chat title from the first message: its first line, cut at a word near 60 characters. */
export function titleFrom(text: string): string {
  const line = text.trim().split(/\r?\n/)[0]?.trim() ?? "";
  if (line.length <= 60) return line || "New chat";
  const cut = line.slice(0, 60);
  const space = cut.lastIndexOf(" ");
  return `${(space > 30 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
