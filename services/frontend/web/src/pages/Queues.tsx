import { useEffect, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, api, call, type Schemas } from "../api/client";
import { Crumbs, Empty, ErrorBox, Loading, ago, useTitle } from "../components/common";
import { RunDetail } from "../components/RunDetail";

type RubricItem = Schemas["RubricItem"];

export function Queues() {
  useTitle("Annotation queues");
  const { workspaceId = "" } = useParams();
  const [search, setSearch] = useState("");
  const [creating, setCreating] = useState(false);
  const queues = useQuery({
    queryKey: ["queues", workspaceId, search],
    queryFn: () => call(api.GET("/api/v1/annotation-queues", { params: { query: { limit: 100, name_contains: search.trim() || undefined } } })),
  });
  return (
    <div className="page">
      <header className="page-head">
        <h1>Annotation queues</h1>
        <div className="actions">
          <input type="search" aria-label="Search queues" placeholder="Search queues" value={search} onChange={(e) => setSearch(e.target.value)} />
          <button className="primary" onClick={() => setCreating(true)}>New queue</button>
        </div>
      </header>
      {creating && <NewQueue onDone={() => setCreating(false)} />}
      {queues.isPending && <Loading what="queues" />}
      <ErrorBox error={queues.error} />
      {queues.data && queues.data.length === 0 && (
        <Empty>No annotation queues{search ? " match" : " yet"}. Create one, then add runs to it from a trace.</Empty>
      )}
      {queues.data && queues.data.length > 0 && (
        <div className="table-wrap">
          <table className="grid">
            <thead><tr><th>Name</th><th>Description</th><th>Rubric</th><th>Reviewers per item</th><th>Updated</th></tr></thead>
            <tbody>
              {queues.data.map((q) => (
                <tr key={q.id}>
                  <td><Link to={`/o/${workspaceId}/annotation-queues/${q.id}`}>{q.name}</Link></td>
                  <td className="muted">{q.description}</td>
                  <td>{rubricOf(q.rubric_items).map((r) => r.feedback_key).join(", ") || <span className="muted">free-form</span>}</td>
                  <td className="num">{q.num_reviewers_per_item}</td>
                  <td>{ago(q.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** The rubric as the API stores it: objects with at least a `feedback_key`. */
function rubricOf(items: Record<string, unknown>[]): RubricItem[] {
  return items.filter((i): i is RubricItem => typeof i.feedback_key === "string");
}

function NewQueue({ onDone }: { onDone: () => void }) {
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [rubric, setRubric] = useState("");
  const create = useMutation({
    mutationFn: () => {
      // One rubric item per line: `key` or `key: what a reviewer judges`.
      const rubric_items = rubric
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean)
        .map((line) => {
          const [key = "", ...rest] = line.split(":");
          return { feedback_key: key.trim(), description: rest.join(":").trim() || null };
        });
      return call(api.POST("/api/v1/annotation-queues", { body: { name, description: description || null, rubric_items } }));
    },
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ["queues"] });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="card example-form" onSubmit={submit} aria-label="New annotation queue">
      <label>Name <input required value={name} onChange={(e) => setName(e.target.value)} /></label>
      <label>Description <input value={description} onChange={(e) => setDescription(e.target.value)} /></label>
      <label>
        Rubric (one feedback key per line, optionally <code>key: description</code>)
        <textarea rows={3} value={rubric} onChange={(e) => setRubric(e.target.value)} placeholder={"correctness: Is the answer right?\nhelpfulness"} />
      </label>
      <div className="button-row">
        <button type="submit" className="primary" disabled={create.isPending}>Create</button>
        <button type="button" onClick={onDone}>Cancel</button>
      </div>
      <ErrorBox error={create.error} />
    </form>
  );
}

/** The review flow: the next item needing the caller's review, its run, and the rubric as a form. */
export function QueueReview() {
  const { workspaceId = "", queueId = "" } = useParams();
  const queries = useQueryClient();
  // Items already reviewed leave the list, so "next" stays at 0; skipping moves past the item.
  const [index, setIndex] = useState(0);
  const queue = useQuery({
    queryKey: ["queue", queueId],
    queryFn: () => call(api.GET("/api/v1/annotation-queues/{id}", { params: { path: { id: queueId } } })),
  });
  const size = useQuery({
    queryKey: ["queue-size", queueId],
    queryFn: () => call(api.GET("/api/v1/annotation-queues/{id}/size", { params: { path: { id: queueId } } })),
  });
  const item = useQuery({
    queryKey: ["queue-item", queueId, index],
    queryFn: async () => {
      try {
        return await call(api.GET("/api/v1/annotation-queues/{id}/run/{index}", { params: { path: { id: queueId, index } } }));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }
    },
  });
  useTitle(queue.data ? `Review · ${queue.data.name}` : "Annotation queue");
  const refresh = () => {
    void queries.invalidateQueries({ queryKey: ["queue-item", queueId] });
    void queries.invalidateQueries({ queryKey: ["queue-size", queueId] });
  };
  const skip = () => setIndex((i) => i + 1);
  const back = () => setIndex((i) => Math.max(0, i - 1));

  if (queue.isPending) return <Loading what="the queue" />;
  if (queue.error) return <ErrorBox error={queue.error} />;
  const rubric = rubricOf(queue.data.rubric_items);
  return (
    <div className="page">
      <Crumbs items={[["Annotation queues", `/o/${workspaceId}/annotation-queues`], [queue.data.name, null]]} />
      <header className="page-head">
        <h1>{queue.data.name}</h1>
        <div className="actions">
          <span className="muted">{size.data ? `${size.data.size} item${size.data.size === 1 ? "" : "s"} in the queue` : ""}</span>
        </div>
      </header>
      {queue.data.rubric_instructions && <p className="card">{queue.data.rubric_instructions}</p>}
      {item.isPending && <Loading what="the next item" />}
      <ErrorBox error={item.error} />
      {item.data === null && (
        <Empty>
          {index === 0 ? "Nothing left to review in this queue. " : "No more items after the ones you skipped. "}
          {index > 0 && <button className="link" onClick={() => setIndex(0)}>Start again from the first</button>}
        </Empty>
      )}
      {item.data && (
        <div className="review">
          <div className="review-run">
            <RunDetail key={item.data.queue_run_id} run={item.data} readOnly />
          </div>
          <ReviewForm
            key={item.data.queue_run_id}
            queueId={queueId}
            item={item.data}
            rubric={rubric}
            onReviewed={refresh}
            onSkip={skip}
            onBack={index > 0 ? back : undefined}
          />
        </div>
      )}
    </div>
  );
}

type Answer = { score: string; value: string };

function ReviewForm({
  queueId,
  item,
  rubric,
  onReviewed,
  onSkip,
  onBack,
}: {
  queueId: string;
  item: Schemas["QueueRun"];
  rubric: RubricItem[];
  onReviewed: () => void;
  onSkip: () => void;
  onBack?: () => void;
}) {
  const keys = rubric.length > 0 ? rubric : [{ feedback_key: "", description: null }];
  const [answers, setAnswers] = useState<Record<number, Answer>>({});
  const [freeKey, setFreeKey] = useState("");
  const [comment, setComment] = useState("");
  const set = (i: number, a: Partial<Answer>) => setAnswers((all) => ({ ...all, [i]: { score: "", value: "", ...all[i], ...a } }));
  const done = useMutation({
    mutationFn: async () => {
      for (const [i, r] of keys.entries()) {
        const a = answers[i];
        const key = (r.feedback_key || freeKey).trim();
        if (!key || !a || (a.score === "" && a.value === "")) continue;
        await call(
          api.POST("/api/v1/feedback", {
            body: {
              run_id: item.id,
              key,
              score: a.score === "" ? null : Number(a.score),
              value: a.value === "" ? null : a.value,
              comment: comment || null,
              feedback_source: { type: "app" },
            },
          }),
        );
      }
      await call(
        api.PATCH("/api/v1/annotation-queues/{id}/runs/{item}", { params: { path: { id: queueId, item: item.queue_run_id } }, body: { status: "completed" } }),
      );
    },
    onSuccess: onReviewed,
  });
  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (!done.isPending) done.mutate();
  };
  // Keyboard: digits pick a score of the first rubric key, Ctrl/⌘+Enter marks done, S skips, B goes back.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        submit();
      } else if (!typing && (e.key === "s" || e.key === "S")) {
        onSkip();
      } else if (!typing && (e.key === "b" || e.key === "B") && onBack) {
        onBack();
      } else if (!typing && /^[0-9]$/.test(e.key)) {
        set(0, { score: e.key });
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });
  return (
    <form className="card review-form" onSubmit={submit} aria-label="Review">
      <h2>Your review</h2>
      {keys.map((r, i) => (
        <fieldset key={i}>
          <legend>{r.feedback_key || "Feedback"}</legend>
          {r.description && <p className="muted small">{r.description}</p>}
          {!r.feedback_key && (
            <label>Key <input value={freeKey} onChange={(e) => setFreeKey(e.target.value)} placeholder="correctness" /></label>
          )}
          <Choices item={r} answer={answers[i]} onChange={(a) => set(i, a)} />
        </fieldset>
      ))}
      <label>Comment <textarea rows={2} value={comment} onChange={(e) => setComment(e.target.value)} /></label>
      <div className="button-row">
        <button type="submit" className="primary" disabled={done.isPending}>Done</button>
        <button type="button" onClick={onSkip}>Skip</button>
        {onBack && <button type="button" onClick={onBack}>Back</button>}
      </div>
      <p className="muted small">Keys: 0–9 score the first key · Ctrl+Enter done · S skip{onBack ? " · B back" : ""}</p>
      <ErrorBox error={done.error} />
    </form>
  );
}

/** A rubric key's answer: the described scores or values as choices, else a free score. */
function Choices({ item, answer, onChange }: { item: RubricItem; answer?: Answer; onChange: (a: Partial<Answer>) => void }) {
  const scores = Object.entries(item.score_descriptions ?? {});
  const values = Object.entries(item.value_descriptions ?? {});
  if (scores.length > 0) {
    return (
      <div className="choices" role="radiogroup" aria-label={`${item.feedback_key} score`}>
        {scores.map(([score, text]) => (
          <label key={score} className="check">
            <input type="radio" name={`${item.feedback_key}-score`} checked={answer?.score === score} onChange={() => onChange({ score })} />
            <strong>{score}</strong> {String(text)}
          </label>
        ))}
      </div>
    );
  }
  if (values.length > 0) {
    return (
      <div className="choices" role="radiogroup" aria-label={`${item.feedback_key} value`}>
        {values.map(([value, text]) => (
          <label key={value} className="check">
            <input type="radio" name={`${item.feedback_key}-value`} checked={answer?.value === value} onChange={() => onChange({ value })} />
            <strong>{value}</strong> {String(text)}
          </label>
        ))}
      </div>
    );
  }
  return (
    <label>
      Score <input type="number" step="any" aria-label={`${item.feedback_key || "Feedback"} score`} value={answer?.score ?? ""} onChange={(e) => onChange({ score: e.target.value })} />
    </label>
  );
}
