/**
 * Model output as Markdown, safely: no rehype-raw, so HTML in the text is never parsed as HTML
 * (remarkHtmlAsText shows it as text); react-markdown's URL filter drops javascript: links.
 */
import { memo, type ComponentPropsWithoutRef } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import { languageOf, remarkHtmlAsText, textOf } from "../lib/markdown";
import { CopyButton } from "./CopyButton";

type Hast = Parameters<typeof textOf>[0];

function CodeBlock({ node, children, ...rest }: ComponentPropsWithoutRef<"pre"> & { node?: unknown }) {
  const language = languageOf(node as Hast);
  return (
    <div className="code-block">
      <div className="code-header">
        <span className="code-language">{language ?? "code"}</span>
        <CopyButton text={textOf(node as Hast).replace(/\n$/, "")} label="Copy code" className="code-copy" />
      </div>
      <pre {...rest}>{children}</pre>
    </div>
  );
}

function Link({ node: _node, children, ...rest }: ComponentPropsWithoutRef<"a"> & { node?: unknown }) {
  return (
    <a {...rest} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  );
}

const components: Components = { pre: CodeBlock, a: Link };
const remarkPlugins = [remarkGfm, remarkHtmlAsText];
const rehypePlugins: Parameters<typeof ReactMarkdown>[0]["rehypePlugins"] = [[rehypeHighlight, { detect: false }]];

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
});
