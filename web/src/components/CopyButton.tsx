import { useEffect, useState } from "react";
import { CheckIcon, CopyIcon } from "./icons";

export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // not allowed (no focus, insecure origin): fall back below
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

export function CopyButton({ text, label, className = "ghost-button" }: { text: string; label: string; className?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = window.setTimeout(() => setCopied(false), 1500);
    return () => window.clearTimeout(timer);
  }, [copied]);
  return (
    <button type="button" className={className} aria-label={copied ? "Copied" : label} title={label} onClick={() => void copyText(text).then(() => setCopied(true))}>
      {copied ? <CheckIcon /> : <CopyIcon />}
      <span className="button-text">{copied ? "Copied" : "Copy"}</span>
    </button>
  );
}
