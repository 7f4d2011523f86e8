// Attachments of a run or an example: a preview by kind (images and media inline, text and JSON
// on request, the first few KB), and a download link for each.
import { useState } from "react";
import type { Schemas } from "../api/client";

type AttachmentUrl = Schemas["AttachmentUrl"];

/** The largest part of a text attachment shown in a preview. */
const TEXT_PREVIEW_BYTES = 4096;

/** `attachment.{name}` keys (as the API names them) to their links, in name order. */
export function attachmentsOf(urls: Record<string, AttachmentUrl> | null | undefined) {
  return Object.entries(urls ?? {})
    .filter(([key]) => key.startsWith("attachment."))
    .map(([key, url]) => ({ name: key.slice("attachment.".length), url }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function kindOf(name: string, mime: string | null | undefined) {
  const type = (mime ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type.startsWith("image/") || /\.(png|jpe?g|gif|webp|svg|avif)$/i.test(name)) return "image";
  if (type.startsWith("audio/") || /\.(mp3|wav|ogg|m4a|flac)$/i.test(name)) return "audio";
  if (type.startsWith("video/") || /\.(mp4|webm|mov)$/i.test(name)) return "video";
  if (type.startsWith("text/") || /json|xml|yaml|csv/.test(type) || /\.(txt|md|json|jsonl|csv|xml|ya?ml|log)$/i.test(name)) return "text";
  return "file";
}

export function Attachments({ urls, compact }: { urls: Record<string, AttachmentUrl> | null | undefined; compact?: boolean }) {
  const items = attachmentsOf(urls);
  if (items.length === 0) return null;
  return (
    <ul className={compact ? "attachments compact" : "attachments"} aria-label="Attachments">
      {items.map(({ name, url }) => (
        <Attachment key={name} name={name} url={url} />
      ))}
    </ul>
  );
}

function Attachment({ name, url }: { name: string; url: AttachmentUrl }) {
  const kind = kindOf(name, url.mime_type);
  const href = url.presigned_url;
  return (
    <li className="attachment">
      {kind === "image" && <img src={href} alt={name} className="attachment-preview" loading="lazy" />}
      {kind === "audio" && <audio controls preload="none" src={href} aria-label={name} />}
      {kind === "video" && <video controls preload="none" src={href} className="attachment-preview" aria-label={name} />}
      {kind === "text" && <TextPreview name={name} href={href} />}
      <span className="attachment-name">
        <a href={href} download={name}>{name}</a>
        {url.mime_type ? <span className="muted small"> · {url.mime_type}</span> : null}
      </span>
    </li>
  );
}

function TextPreview({ name, href }: { name: string; href: string }) {
  const [text, setText] = useState<string | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const load = async () => {
    try {
      const response = await fetch(href, { credentials: "same-origin" });
      if (!response.ok || !response.body) throw new Error(`The download answered ${response.status}`);
      // Read no more than the preview shows, then let the rest go.
      const reader = response.body.getReader();
      const chunks: Uint8Array[] = [];
      let size = 0;
      while (size < TEXT_PREVIEW_BYTES) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.length;
      }
      const more = size >= TEXT_PREVIEW_BYTES;
      void reader.cancel();
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, at);
        at += chunk.length;
      }
      const body = new TextDecoder().decode(bytes.subarray(0, TEXT_PREVIEW_BYTES));
      setText(more ? `${body}…` : body);
    } catch (error) {
      setFailed(error instanceof Error ? error.message : String(error));
    }
  };
  if (text !== null) return <pre className="attachment-text" aria-label={`Preview of ${name}`}>{text}</pre>;
  return (
    <span>
      <button type="button" className="link" onClick={() => void load()} aria-label={`Preview ${name}`}>Preview</button>
      {failed && <span className="error-text small"> {failed}</span>}
    </span>
  );
}
