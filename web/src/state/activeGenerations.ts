/** The running generation of each chat, kept across reloads so the page can re-attach to it. */
const PREFIX = "minichat.generation.";

export const activeGenerations = {
  get(chatId: string): string | null {
    return localStorage.getItem(PREFIX + chatId);
  },
  set(chatId: string, generationId: string): void {
    localStorage.setItem(PREFIX + chatId, generationId);
  },
  remove(chatId: string, generationId?: string): void {
    if (generationId && localStorage.getItem(PREFIX + chatId) !== generationId) return;
    localStorage.removeItem(PREFIX + chatId);
  },
};
