/**
 * Helpers for the monitoring tests (`monitoring_test.ts`, and the scrape
 * check in `chart_test.ts`): where the alert rules and the Grafana dashboard
 * live, their PromQL expressions, and the metric names those expressions
 * read.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { CHART_DIR, REPO_DIR } from "./_chart.ts";

/** The Prometheus rule file (also the chart's PrometheusRule). */
export const RULES_FILE = `${REPO_DIR}/monitoring/prometheus/rules.yaml`;
/** Its promtool unit tests. */
export const RULES_TEST_FILE = `${REPO_DIR}/monitoring/prometheus/rules_test.yaml`;
/** The Grafana dashboard (also the chart's dashboard ConfigMap). */
export const DASHBOARD_FILE = `${REPO_DIR}/monitoring/grafana/evpn-agent.json`;
/** The chart's copies: Helm reads files inside the chart only. */
export const CHART_COPIES: Readonly<Record<string, string>> = {
  [RULES_FILE]: `${CHART_DIR}/files/prometheus-rules.yaml`,
  [DASHBOARD_FILE]: `${CHART_DIR}/files/dashboards/evpn-agent.json`,
};

/**
 * Series that Prometheus itself adds to every scrape, so no `/metrics`
 * answer contains them.
 */
export const PROMETHEUS_SERIES: ReadonlySet<string> = new Set(["up"]);

/** One alerting rule as written in the rule file. */
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The alerting rules of every group in `text` (a Prometheus rule file). */
export function alertRules(text: string): AlertRule[] {
  const doc = parseYaml(text) as { groups?: { rules?: Partial<AlertRule>[] }[] } | null;
  const out: AlertRule[] = [];
  for (const group of doc?.groups ?? []) {
    for (const rule of group.rules ?? []) {
      if (typeof rule.alert !== "string" || typeof rule.expr !== "string") {
        throw new SyntaxError(`Rule without alert or expr: ${JSON.stringify(rule)}`);
      }
      out.push(rule as AlertRule);
    }
  }
  return out;
}

/** A Grafana panel, as far as these tests read it. */
export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { expr?: string; refId?: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}

/** Every panel of a dashboard, rows' nested panels included. */
export function allPanels(dashboard: { panels?: Panel[] }): Panel[] {
  const out: Panel[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const p of panels ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** `[panel title, expr]` for every query of the dashboard. */
export function dashboardExprs(dashboard: { panels?: Panel[] }): [string, string][] {
  return allPanels(dashboard).flatMap((p) =>
    (p.targets ?? []).map((t): [string, string] => [p.title, t.expr ?? ""])
  );
}

/** Replaces Grafana's variables with values Prometheus accepts, for syntax checks. */
export function withoutGrafanaVariables(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__interval", "1m")
    .replaceAll("$__range", "1h")
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, ".*");
}

/** PromQL words that are not metric names when not followed by "(". */
const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "atan2",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression reads: identifiers outside strings,
 * label matchers (`{...}`), ranges (`[...]`) and grouping lists
 * (`by (...)`, `on (...)`, ...), that are not functions, aggregations or
 * keywords. Throws a `SyntaxError` on unbalanced brackets.
 */
export function queriedMetrics(expr: string): string[] {
  let text = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  for (const [open, close] of [["{", "}"], ["[", "]"]] as const) {
    const re = new RegExp(`\\${open}[^\\${open}\\${close}]*\\${close}`, "g");
    text = text.replace(re, " ");
    if (text.includes(open) || text.includes(close)) {
      throw new SyntaxError(`Unbalanced "${open}${close}" in ${JSON.stringify(expr)}`);
    }
  }
  text = text.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g, " ");
  const names = new Set<string>();
  for (const m of text.matchAll(/(?<![A-Za-z0-9_:.$])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = text.slice(m.index + m[0].length);
    if (/^\s*\(/.test(after) || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names].sort();
}

/** Every metric name the rules and the dashboard read, with where each is read. */
export async function monitoredMetrics(): Promise<Map<string, string[]>> {
  const uses = new Map<string, string[]>();
  const note = (name: string, where: string) => uses.set(name, [...uses.get(name) ?? [], where]);
  for (const rule of alertRules(await Deno.readTextFile(RULES_FILE))) {
    for (const name of queriedMetrics(rule.expr)) note(name, `alert ${rule.alert}`);
  }
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD_FILE));
  for (const [title, expr] of dashboardExprs(dashboard)) {
    for (const name of queriedMetrics(expr)) note(name, `panel "${title}"`);
  }
  return uses;
}
