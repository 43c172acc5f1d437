/**
 * The results table and `bench/results.json`.
 * @module
 */

import type { MachineFacts } from "./_proc.ts";
import type { Metric, ScenarioResult } from "./_scenario.ts";
import { summarize } from "./_stats.ts";

/**
 * Formats a number with about three significant digits.
 *
 * @param value The number.
 * @returns The text; `-` for NaN.
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "-" : String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return "0";
  return value.toPrecision(2);
}

const COLUMNS = [
  "metric",
  "unit",
  "median",
  "p99",
  "range",
  "n",
  "target",
  "verdict, or what limits it",
] as const;

/**
 * Judges a metric against its goal, in words: `met`, `missed: median 6.28 ms > 5; why`, or
 * `not tested: why` (quick mode's small N cannot show a full-scale target). A value that is not a
 * number (a step that never happened within its deadline) misses the goal.
 *
 * @param metric The metric.
 * @returns The verdict; empty when the metric has no goal.
 */
export function verdict(metric: Metric): string {
  const goal = metric.goal;
  if (goal === undefined) return "";
  if (goal.notTested !== undefined) return `not tested: ${goal.notTested}`;
  const s = summarize(metric.values);
  const why = goal.why === undefined ? "" : `; ${goal.why}`;
  const never = metric.values.length - s.n;
  if (never > 0) return `missed: ${never} of ${metric.values.length} never happened${why}`;
  if (s.n === 0) return "not measured";
  const value = s[goal.stat];
  const unit = metric.unit === "%" ? " %" : ` ${metric.unit}`;
  if (goal.atMost !== undefined && value > goal.atMost) {
    return `missed: ${goal.stat} ${formatNumber(value)}${unit} > ${
      formatNumber(goal.atMost)
    }${why}`;
  }
  if (goal.atLeast !== undefined && value < goal.atLeast) {
    return `missed: ${goal.stat} ${formatNumber(value)}${unit} < ${
      formatNumber(goal.atLeast)
    }${why}`;
  }
  return "met";
}

/**
 * Renders the results as a fixed-width table: one block per scenario, one row per metric.
 *
 * @param results The scenarios' results.
 * @returns The table text.
 */
export function formatTable(results: readonly ScenarioResult[]): string {
  const rows: string[][] = [];
  const blocks: { title: string; rows: string[][]; notes: string[]; failures: string[] }[] = [];
  for (const r of results) {
    const mine: string[][] = r.metrics.map((m) => {
      const s = summarize(m.values);
      return [
        m.name,
        m.unit,
        formatNumber(s.median),
        formatNumber(s.p99),
        s.n === 0 ? "-" : `${formatNumber(s.min)} – ${formatNumber(s.max)}`,
        String(s.n),
        m.target ?? "",
        m.goal === undefined && m.limit !== undefined ? `limit: ${m.limit}` : verdict(m),
      ];
    });
    rows.push(...mine);
    blocks.push({ title: r.title, rows: mine, notes: r.notes, failures: r.failures });
  }
  const header = [...COLUMNS];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ").trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const b of blocks) {
    out.push("", b.title);
    for (const row of b.rows) out.push(line(row));
    for (const f of b.failures) out.push(`  FAILURE: ${f}`);
    for (const n of b.notes) out.push(`  note: ${n}`);
  }
  return out.join("\n");
}

/** The content of `bench/results.json`. */
export interface ResultsFile {
  /** Quick or full. */
  mode: "quick" | "full";
  /** The machine and software. */
  machine: MachineFacts;
  /** Total wall time, seconds. */
  seconds: number;
  /** Every scenario with summaries and raw values. */
  scenarios: (ScenarioResult & {
    summaries: Record<string, ReturnType<typeof summarize>>;
    verdicts: Record<string, string>;
  })[];
}

/**
 * Builds the JSON document written to `bench/results.json`.
 *
 * @param results The scenarios' results.
 * @param options Mode, machine facts and wall time.
 * @returns The document.
 */
export function resultsFile(
  results: readonly ScenarioResult[],
  options: { quick: boolean; machine: MachineFacts; seconds: number },
): ResultsFile {
  return {
    mode: options.quick ? "quick" : "full",
    machine: options.machine,
    seconds: options.seconds,
    scenarios: results.map((r) => ({
      ...r,
      summaries: Object.fromEntries(r.metrics.map((m) => [m.name, summarize(m.values)])),
      verdicts: Object.fromEntries(
        r.metrics.filter((m) => m.goal !== undefined).map((m) => [m.name, verdict(m)]),
      ),
    })),
  };
}
