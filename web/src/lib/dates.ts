/** When a chat was last used, as the sidebar shows it: its group and a short time. */

export type ChatGroup = "Today" | "Previous 7 days" | "Older";

const DAY_MS = 86_400_000;

function startOfDay(date: Date): number {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

export function groupOf(iso: string, now: Date): ChatGroup {
  const at = new Date(iso).getTime();
  const today = startOfDay(now);
  if (at >= today) return "Today";
  if (at >= today - 7 * DAY_MS) return "Previous 7 days";
  return "Older";
}

/** "14:05" today, "Mon" within the week, "3 Nov" this year, "3 Nov 2025" before. */
export function lastUsed(iso: string, now: Date, locale?: string): string {
  const at = new Date(iso);
  const group = groupOf(iso, now);
  if (group === "Today") return at.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  if (group === "Previous 7 days") return at.toLocaleDateString(locale, { weekday: "short" });
  const sameYear = at.getFullYear() === now.getFullYear();
  return at.toLocaleDateString(locale, sameYear ? { day: "numeric", month: "short" } : { day: "numeric", month: "short", year: "numeric" });
}

/** The chats in their groups, in the order given (newest activity first), empty groups left out. */
export function groupChats<T extends { updated_at: string }>(chats: readonly T[], now: Date): { group: ChatGroup; chats: T[] }[] {
  const groups: { group: ChatGroup; chats: T[] }[] = [];
  for (const chat of chats) {
    const group = groupOf(chat.updated_at, now);
    const last = groups[groups.length - 1];
    if (last?.group === group) last.chats.push(chat);
    else groups.push({ group, chats: [chat] });
  }
  return groups;
}
