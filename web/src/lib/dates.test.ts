import { describe, expect, it } from "vitest";
import { groupChats, groupOf, lastUsed } from "./dates";

const now = new Date(2026, 11, 3, 15, 30);
const at = (days: number, hours = 12) => new Date(2026, 11, 3 - days, hours).toISOString();

describe("chat groups", () => {
  it("puts a chat in today, the previous 7 days, or older, by when it was last used", () => {
    expect(groupOf(at(0, 1), now)).toBe("Today");
    expect(groupOf(at(1), now)).toBe("Previous 7 days");
    expect(groupOf(at(7), now)).toBe("Previous 7 days");
    expect(groupOf(at(8), now)).toBe("Older");
  });

  it("keeps the order and leaves empty groups out", () => {
    const chats = [at(0), at(0), at(30)].map((updated_at, i) => ({ id: `c${i}`, updated_at }));
    expect(groupChats(chats, now).map((g) => [g.group, g.chats.map((c) => c.id)])).toEqual([
      ["Today", ["c0", "c1"]],
      ["Older", ["c2"]],
    ]);
  });

  it("shows a time today, a weekday this week, a date before", () => {
    expect(lastUsed(at(0, 9), now, "en-GB")).toBe("09:00");
    expect(lastUsed(at(2), now, "en-GB")).toBe("Tue");
    expect(lastUsed(at(40), now, "en-GB")).toBe("24 Oct");
    expect(lastUsed(new Date(2025, 0, 5).toISOString(), now, "en-GB")).toBe("5 Jan 2025");
  });
});
