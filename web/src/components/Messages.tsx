/** One turn of the thread: a user's message, or an answer with its versions and actions. */
import { useState } from "react";
import type { Message } from "../api/types";
import type { GenerationIssue } from "../state/useConversation";
import { CopyButton } from "./CopyButton";
import { ChevronLeft, ChevronRight, Logo, RefreshIcon } from "./icons";
import { Markdown } from "./Markdown";

export function UserMessage({ message }: { message: Message }) {
  return (
    <article className="message user" aria-label="Your message">
      <div className="bubble">{message.content}</div>
    </article>
  );
}

interface AnswerProps {
  versions: Message[];
  /** The text streaming in, shown as the newest version. */
  liveText?: string | null;
  streaming?: boolean;
  stopped?: boolean;
  issue?: GenerationIssue | null;
  canRegenerate?: boolean;
  onRegenerate?: () => void;
  /** Continue the shown version, one the token limit cut (offered on the last answer only). */
  onContinue?: (messageId: string) => void;
}

export function Answer({ versions, liveText = null, streaming = false, stopped = false, issue = null, canRegenerate = false, onRegenerate, onContinue }: AnswerProps) {
  const total = versions.length + (liveText !== null ? 1 : 0);
  const [chosen, setChosen] = useState<number | null>(null);
  const index = chosen === null || chosen >= total ? total - 1 : chosen;
  const message = index < versions.length ? versions[index] : undefined;
  const text = message ? message.content : (liveText ?? "");
  const latest = index === total - 1;
  const incomplete = stopped || (message?.status === "incomplete" && !(latest && issue));
  const cut = message?.finish_reason === "length";

  return (
    <article className="message assistant" aria-label="MiniChat's answer" aria-busy={streaming}>
      <div className="avatar">
        <Logo />
      </div>
      <div className="answer">
        {text ? <Markdown text={text} /> : streaming ? <TypingDots /> : null}
        {latest && issue ? (
          <div className="answer-error" role="alert">
            <strong>The answer failed.</strong> {issue.message || issue.code}
          </div>
        ) : null}
        {!streaming && (text || total > 1 || canRegenerate) ? (
          <div className="answer-actions">
            {total > 1 ? (
              <div className="versions" role="group" aria-label="Answer versions">
                <button type="button" className="ghost-button icon" aria-label="Previous version" disabled={index === 0} onClick={() => setChosen(index - 1)}>
                  <ChevronLeft />
                </button>
                <span aria-live="polite">
                  {index + 1} / {total}
                </span>
                <button type="button" className="ghost-button icon" aria-label="Next version" disabled={latest} onClick={() => setChosen(index + 1)}>
                  <ChevronRight />
                </button>
              </div>
            ) : null}
            {text ? <CopyButton text={text} label="Copy answer" /> : null}
            {canRegenerate && onRegenerate ? (
              <button type="button" className="ghost-button" onClick={onRegenerate} aria-label="Regenerate answer">
                <RefreshIcon />
                <span className="button-text">Regenerate</span>
              </button>
            ) : null}
            {cut && latest && canRegenerate && onContinue && message ? (
              <button type="button" className="ghost-button" onClick={() => onContinue(message.id)} aria-label="Continue answer">
                <ChevronRight />
                <span className="button-text">Continue</span>
              </button>
            ) : null}
            {incomplete ? <span className="badge">Stopped</span> : null}
          </div>
        ) : null}
        {cut && !streaming ? (
          <p className="answer-note" role="note">
            The answer was cut short: it reached the length limit.{latest && canRegenerate ? " Continue to read the rest." : ""}
          </p>
        ) : null}
      </div>
    </article>
  );
}

function TypingDots() {
  return (
    <span className="typing" role="status" aria-label="MiniChat is thinking">
      <span />
      <span />
      <span />
    </span>
  );
}
