/** Markdown plumbing that needs no React: raw HTML shown as text, code text and language. */

interface Node {
  type: string;
  value?: string;
  children?: Node[];
  properties?: { className?: unknown };
  tagName?: string;
}

/**
 * A remark plugin: raw HTML in model output becomes literal text. Without rehype-raw it would
 * be dropped (never executed); showing it as text keeps answers that talk about HTML intact.
 */
export function remarkHtmlAsText() {
  return (tree: Node) => {
    const walk = (node: Node) => {
      if (node.type === "html") node.type = "text";
      node.children?.forEach(walk);
    };
    walk(tree);
  };
}

export function textOf(node: Node | undefined): string {
  if (!node) return "";
  if (node.type === "text") return node.value ?? "";
  return (node.children ?? []).map(textOf).join("");
}

export function languageOf(node: Node | undefined): string | null {
  const code = node?.children?.find((child) => child.tagName === "code");
  const classes = code?.properties?.className;
  const list = Array.isArray(classes) ? classes.map(String) : [];
  const language = list.find((name) => name.startsWith("language-"));
  return language ? language.slice("language-".length) : null;
}
