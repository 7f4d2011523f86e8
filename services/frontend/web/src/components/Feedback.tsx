import type { FeedbackStats } from "../api/client";

/** Feedback averages per key, as compact chips. */
export function FeedbackChips({ stats }: { stats?: FeedbackStats | null }) {
  if (!stats) return null;
  const keys = Object.keys(stats);
  if (keys.length === 0) return null;
  return (
    <span className="chips">
      {keys.map((key) => {
        const s = stats[key];
        if (!s) return null;
        const avg = s.avg;
        const value = avg !== null && avg !== undefined ? avg.toFixed(2) : Object.keys(s.values).join(", ") || `n=${s.n}`;
        return (
          <span key={key} className="chip" title={`${key}: ${s.n} scored`}>
            {key} <strong>{value}</strong>
          </span>
        );
      })}
    </span>
  );
}
