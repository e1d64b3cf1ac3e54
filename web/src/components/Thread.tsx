/**
 * The thread: the newest turns first in view, older ones revealed as the reader scrolls up,
 * and kept pinned to the bottom while an answer streams unless the reader scrolled away.
 */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { Message } from "../api/types";
import { buildTurns } from "../lib/turns";
import type { Live, Outcome } from "../state/useConversation";
import { Answer, UserMessage } from "./Messages";

const WINDOW = 40;

interface Props {
  chatId: string;
  messages: Message[];
  live: Live | null;
  outcome: Outcome | null;
  busy: boolean;
  onRegenerate: () => void;
  onContinue: (messageId: string) => void;
}

export function Thread({ chatId, messages, live, outcome, busy, onRegenerate, onContinue }: Props) {
  const turns = useMemo(() => buildTurns(messages), [messages]);
  const [shown, setShown] = useState(WINDOW);
  const scroller = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const anchor = useRef<number | null>(null);

  useEffect(() => {
    setShown(WINDOW);
    pinned.current = true;
  }, [chatId]);

  const showOlder = useCallback(() => {
    const el = scroller.current;
    if (el) anchor.current = el.scrollHeight - el.scrollTop;
    setShown((n) => n + WINDOW);
  }, []);

  const hidden = Math.max(0, turns.length - shown);
  useEffect(() => {
    const el = sentinel.current;
    if (!el || hidden === 0 || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) showOlder();
    }, { root: scroller.current, rootMargin: "200px 0px 0px 0px" });
    observer.observe(el);
    return () => observer.disconnect();
  }, [hidden, showOlder]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (anchor.current !== null) {
      // Older turns were added above: keep what the reader was looking at in place.
      el.scrollTop = el.scrollHeight - anchor.current;
      anchor.current = null;
    } else if (pinned.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [turns, shown, live?.text, live?.error, outcome]);

  const onScroll = () => {
    const el = scroller.current;
    if (el) pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  };

  const visible = turns.slice(hidden);
  const last = turns[turns.length - 1];
  const liveIntoLast = live?.regenerate && last?.kind === "assistant";
  const lastIsUser = last?.kind === "user";
  const issue = outcome?.status === "failed" ? outcome.error ?? { code: "failed", message: "The answer failed." } : null;

  return (
    <div className="thread" ref={scroller} onScroll={onScroll}>
      <div className="thread-inner" role="log" aria-label="Conversation" aria-live="off">
        {hidden > 0 ? (
          <div ref={sentinel} className="older">
            <button type="button" className="ghost-button" onClick={showOlder}>
              Show {Math.min(hidden, WINDOW)} earlier messages
            </button>
          </div>
        ) : null}
        {visible.map((turn) => {
          if (turn.kind === "user") return <UserMessage key={turn.key} message={turn.message} />;
          const isLast = turn === last;
          return (
            <Answer
              key={turn.key}
              versions={turn.versions}
              liveText={isLast && liveIntoLast ? live.text : null}
              streaming={Boolean(isLast && liveIntoLast)}
              issue={isLast && !live ? issue : null}
              canRegenerate={isLast && !live && !busy}
              onRegenerate={onRegenerate}
              onContinue={onContinue}
            />
          );
        })}
        {live && !liveIntoLast ? (
          <Answer key={live.generationId} versions={[]} liveText={live.text} streaming issue={live.error} />
        ) : null}
        {!live && lastIsUser && (issue || !busy) ? (
          <Answer key="retry" versions={[]} issue={issue} canRegenerate={!busy} onRegenerate={onRegenerate} />
        ) : null}
      </div>
    </div>
  );
}
