// LLM inputs and outputs as chat messages: the OpenAI shape (`{role, content}`), LangChain's
// serialised messages (`{lc, id: [..., "HumanMessage"], kwargs}`) and `generations`.

export interface ChatMessage {
  role: string;
  content: string;
  images: string[];
  toolCalls: { name: string; args: unknown; id?: string }[];
}

const ROLE_OF_CLASS: Record<string, string> = {
  HumanMessage: "user",
  HumanMessageChunk: "user",
  AIMessage: "assistant",
  AIMessageChunk: "assistant",
  SystemMessage: "system",
  ToolMessage: "tool",
  FunctionMessage: "function",
  ChatMessage: "chat",
};

function record(value: unknown): Record<string, unknown> | null {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function contentParts(content: unknown): { text: string; images: string[] } {
  if (typeof content === "string") return { text: content, images: [] };
  if (!Array.isArray(content)) return { text: content === undefined || content === null ? "" : JSON.stringify(content), images: [] };
  const texts: string[] = [];
  const images: string[] = [];
  for (const part of content) {
    const p = record(part);
    if (!p) {
      if (typeof part === "string") texts.push(part);
      continue;
    }
    if (typeof p.text === "string") texts.push(p.text);
    const image = record(p.image_url)?.url ?? p.image_url ?? (p.type === "image" ? p.url ?? p.source_data : undefined);
    if (typeof image === "string") images.push(image);
  }
  return { text: texts.join("\n"), images };
}

function toolCalls(message: Record<string, unknown>): ChatMessage["toolCalls"] {
  const calls = message.tool_calls ?? record(message.additional_kwargs)?.tool_calls;
  if (!Array.isArray(calls)) return [];
  return calls.flatMap((c) => {
    const call = record(c);
    if (!call) return [];
    const fn = record(call.function);
    const name = (call.name ?? fn?.name) as string | undefined;
    let args = call.args ?? fn?.arguments;
    if (typeof args === "string") {
      try {
        args = JSON.parse(args);
      } catch {
        // Arguments that are not JSON are shown as written.
      }
    }
    return name ? [{ name, args, id: typeof call.id === "string" ? call.id : undefined }] : [];
  });
}

function asMessage(value: unknown): ChatMessage | null {
  const m = record(value);
  if (!m) return null;
  if (m.lc !== undefined && Array.isArray(m.id) && record(m.kwargs)) {
    const kwargs = m.kwargs as Record<string, unknown>;
    const cls = String(m.id.at(-1));
    const { text, images } = contentParts(kwargs.content);
    return { role: ROLE_OF_CLASS[cls] ?? String(kwargs.role ?? cls), content: text, images, toolCalls: toolCalls(kwargs) };
  }
  const role = m.role ?? m.type;
  if (typeof role === "string" && ("content" in m || "tool_calls" in m)) {
    const { text, images } = contentParts(m.content);
    return { role: role === "human" ? "user" : role === "ai" ? "assistant" : role, content: text, images, toolCalls: toolCalls(m) };
  }
  return null;
}

function messagesFrom(list: unknown): ChatMessage[] | null {
  if (!Array.isArray(list)) return null;
  const flat = list.length > 0 && list.every(Array.isArray) ? list.flat() : list;
  const out = flat.map(asMessage);
  return out.length > 0 && out.every((m): m is ChatMessage => m !== null) ? out : null;
}

/** The chat messages a run's inputs or outputs hold, or null when they are not a chat. */
export function chatMessages(payload: unknown): ChatMessage[] | null {
  const p = record(payload);
  if (!p) return null;
  const direct = messagesFrom(p.messages) ?? messagesFrom(p.input);
  if (direct) return direct;
  const generations = p.generations;
  if (Array.isArray(generations)) {
    const out = generations.flat().flatMap((g) => {
      const gen = record(g);
      if (!gen) return [];
      const message = asMessage(gen.message);
      if (message) return [message];
      return typeof gen.text === "string" ? [{ role: "assistant", content: gen.text, images: [], toolCalls: [] }] : [];
    });
    if (out.length > 0) return out;
  }
  if (Array.isArray(p.choices)) {
    const out = p.choices.flatMap((c) => {
      const message = asMessage(record(c)?.message);
      return message ? [message] : [];
    });
    if (out.length > 0) return out;
  }
  const single = asMessage(p.output) ?? asMessage(p);
  return single ? [single] : null;
}

export function ChatView({ messages }: { messages: ChatMessage[] }) {
  return (
    <ol className="chat">
      {messages.map((m, i) => (
        <li key={i} className={`message role-${m.role}`}>
          <div className="role">{m.role}</div>
          {m.content && <div className="message-text">{m.content}</div>}
          {m.images.map((src, j) => (
            <img key={j} src={src} alt={`Image ${j + 1} of the ${m.role} message`} className="message-image" loading="lazy" />
          ))}
          {m.toolCalls.map((call, j) => (
            <div key={j} className="tool-call">
              <span className="badge type-tool">tool call</span> <code>{call.name}</code>
              <pre className="code small">{JSON.stringify(call.args, null, 2)}</pre>
            </div>
          ))}
        </li>
      ))}
    </ol>
  );
}
