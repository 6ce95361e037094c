/**
 * The monitoring files (monitoring/prometheus/rules.yaml, its promtool unit
 * tests, monitoring/grafana/evpn-agent.json) and the chart's copies of them:
 *
 * - `promtool check rules` and `promtool test rules` pass, and the unit tests
 *   notice a wrong alert: one that never fires, fires without waiting its
 *   `for`, or reads too much (a mutant per alert must make them fail);
 * - the dashboard is valid JSON with the panels the operator needs, every
 *   query parses (promtool, as recording rules) and uses the data source
 *   variable;
 * - the chart's files are the same bytes as monitoring/.
 *
 * That every metric these files read exists in a real scrape is checked in
 * tests/chart_test.ts, against an agent running on the chart's rendered
 * config in a namespace. promtool comes from Debian's `prometheus` package
 * (scripts/setup.sh --for-tests); without it the promtool tests are skipped,
 * or fail with CI=true.
 */
import assert from "node:assert/strict";
import { stringify as toYaml } from "yaml";
import { command, needTools, REPO_DIR } from "./_chart.ts";
import {
  type AlertRule,
  alertRules,
  allPanels,
  CHART_COPIES,
  DASHBOARD_FILE,
  dashboardExprs,
  monitoredMetrics,
  type Panel,
  queriedMetrics,
  RULES_FILE,
  RULES_TEST_FILE,
  withoutGrafanaVariables,
} from "./_monitoring.ts";

const promtoolGate = needTools("promtool tests", ["promtool"]);

/** `promtool test rules` on a copy of the unit tests that loads `rulesText` instead. */
async function runRuleTests(rulesText: string): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "evpn-rules-" });
  try {
    await Deno.writeTextFile(`${dir}/rules.yaml`, rulesText);
    await Deno.copyFile(RULES_TEST_FILE, `${dir}/rules_test.yaml`);
    const r = await command("promtool", ["test", "rules", `${dir}/rules_test.yaml`]);
    return { code: r.code, output: r.stdout + r.stderr };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The rule file with one alert changed (parsed and written back as YAML). */
function mutate(text: string, alert: string, change: (rule: AlertRule) => void): string {
  const doc = { groups: [{ name: "evpn-agent", rules: alertRules(text) }] };
  const rule = doc.groups[0]!.rules.find((r) => r.alert === alert);
  assert.ok(rule, `no alert ${alert}`);
  change(rule);
  return toYaml(doc);
}

/**
 * Plausible mistakes per alert, each of which the unit tests must catch:
 * a selector or threshold that is too loose.
 */
const LOOSE_EXPRS: Readonly<Record<string, string>> = {
  EvpnAgentDown: "up == 0", // any job
  EvpnAgentNotReady: "evpn_agent_ready <= 1", // every agent
  EvpnAgentBgpStreamDown: "evpn_agent_bgp_stream_up <= 1",
  EvpnAgentFdbOutOfSync: "evpn_agent_flood_entries_missing + evpn_agent_flood_entries_extra >= 0", // in sync too
  // ok writes counted as failures
  EvpnAgentFdbWritesFailing:
    "sum without (op, result) (rate(evpn_agent_fdb_operations_total[5m])) > 0",
  EvpnAgentReconnectStorm: "increase(evpn_agent_bgp_stream_losses_total[10m]) > 2",
  EvpnAgentNetlinkOverruns: "increase(evpn_agent_netlink_overruns_total[10m]) >= 0", // none too
};

/** Mistakes that read too little, for the alerts where one is plausible. */
const BLIND_EXPRS: Readonly<Record<string, string>> = {
  // totals only: one missing plus one extra entry look in sync
  EvpnAgentFdbOutOfSync: 'max without (state) (evpn_agent_flood_entries{state="desired"}) != ' +
    'max without (state) (evpn_agent_flood_entries{state="programmed"})',
};

/** What issue 12 asks the alerts to cover, by alert name. */
const REQUIRED_ALERTS = [
  "EvpnAgentNotReady", // agent not ready
  "EvpnAgentBgpStreamDown", // stream down for more than a few minutes
  "EvpnAgentFdbOutOfSync", // desired ≠ programmed for more than a minute
  "EvpnAgentFdbWritesFailing", // writes failing
  "EvpnAgentReconnectStorm", // reconnect storms
];

Deno.test("queriedMetrics() finds the metric names of a PromQL expression, and only those", () => {
  assert.deepEqual(
    queriedMetrics(
      'histogram_quantile(0.99, sum by (le, instance) (rate(a_seconds_bucket{job=~"$job", x="y{z}"}[$__rate_interval])))',
    ),
    ["a_seconds_bucket"],
  );
  assert.deepEqual(
    queriedMetrics(
      'max without (state) (f{state="desired"}) != ignoring(state) group_left(vni) g offset 5m',
    ),
    ["f", "g"],
  );
  assert.deepEqual(queriedMetrics("count(r == 0) or vector(0)"), ["r"]);
  assert.deepEqual(queriedMetrics("time() - ts_seconds > bool 1e3 and on() up"), [
    "ts_seconds",
    "up",
  ]);
  assert.deepEqual(queriedMetrics("sum(rate(x_total[5m:1m]))/sum(rate(y_total[5m]))"), [
    "x_total",
    "y_total",
  ]);
  assert.throws(() => queriedMetrics("rate(x_total[5m)"), SyntaxError);
});

Deno.test({
  name: "the alert rules pass promtool check rules and their promtool unit tests",
  ignore: promtoolGate.ignore,
  async fn() {
    promtoolGate.check();
    const check = await command("promtool", ["check", "rules", RULES_FILE]);
    assert.equal(check.code, 0, `promtool check rules:\n${check.stdout}${check.stderr}`);
    const rules = alertRules(await Deno.readTextFile(RULES_FILE));
    assert.match(check.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    const test = await runRuleTests(await Deno.readTextFile(RULES_FILE));
    assert.equal(test.code, 0, `promtool test rules:\n${test.output}`);
    assert.match(test.output, /SUCCESS/);
  },
});

Deno.test("the alerts cover what the issue asks, each actionable", async () => {
  const rules = alertRules(await Deno.readTextFile(RULES_FILE));
  const names = rules.map((r) => r.alert);
  for (const name of REQUIRED_ALERTS) assert.ok(names.includes(name), `missing alert ${name}`);
  assert.equal(new Set(names).size, names.length, "alert names repeat");
  assert.deepEqual(Object.keys(LOOSE_EXPRS).sort(), [...names].sort(), "a loose mutant per alert");
  const byName = new Map(rules.map((r) => [r.alert, r]));
  assert.equal(byName.get("EvpnAgentFdbOutOfSync")?.for, "1m");
  assert.ok(
    ["3m", "5m"].includes(byName.get("EvpnAgentBgpStreamDown")?.for ?? ""),
    "stream down: a few minutes",
  );
  for (const rule of rules) {
    assert.ok(rule.for, `${rule.alert}: no "for" (alerts on a single scrape)`);
    assert.ok(
      ["warning", "critical"].includes(rule.labels?.severity ?? ""),
      `${rule.alert}: severity`,
    );
    assert.ok(
      rule.annotations?.summary?.includes("{{ $labels.instance }}"),
      `${rule.alert}: summary`,
    );
    assert.ok((rule.annotations?.description?.length ?? 0) > 60, `${rule.alert}: description`);
  }
});

Deno.test({
  name:
    "the promtool unit tests fail for an alert that never fires, fires early, reads too much or too little",
  ignore: promtoolGate.ignore,
  async fn(t) {
    promtoolGate.check();
    const text = await Deno.readTextFile(RULES_FILE);
    for (const rule of alertRules(text)) {
      const mutants: [string, (r: AlertRule) => void][] = [
        ["never fires", (r) => void (r.expr = "vector(1) < 0")],
        ["does not wait its for", (r) => void delete r.for],
        [
          `reads too much (${LOOSE_EXPRS[rule.alert]})`,
          (r) => void (r.expr = LOOSE_EXPRS[r.alert]!),
        ],
      ];
      const blind = BLIND_EXPRS[rule.alert];
      if (blind) mutants.push([`reads too little (${blind})`, (r) => void (r.expr = blind)]);
      for (const [what, change] of mutants) {
        await t.step(`${rule.alert} ${what}`, async () => {
          const r = await runRuleTests(mutate(text, rule.alert, change));
          assert.notEqual(r.code, 0, `promtool test rules passed a broken ${rule.alert}`);
          assert.match(r.output, new RegExp(`alertname: ${rule.alert},`), r.output);
        });
      }
    }
  },
});

Deno.test("the dashboard is valid JSON with the panels an operator needs", async () => {
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD_FILE));
  assert.equal(dashboard.uid, "evpn-agent");
  assert.equal(typeof dashboard.title, "string");
  assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36);
  const variables = (dashboard.templating?.list ?? []) as { name: string; type: string }[];
  assert.deepEqual(variables.find((v) => v.name === "datasource")?.type, "datasource");

  const panels: Panel[] = allPanels(dashboard);
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, `panel ids repeat: ${ids}`);
  // No two panels overlap on the 24-column grid.
  const cells = new Map<string, string>();
  for (const p of panels) {
    const { x, y, w, h } = p.gridPos;
    assert.ok(
      x >= 0 && w > 0 && x + w <= 24 && h > 0,
      `${p.title}: gridPos ${JSON.stringify(p.gridPos)}`,
    );
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        const other = cells.get(`${i},${j}`);
        assert.equal(other, undefined, `"${p.title}" overlaps "${other}"`);
        cells.set(`${i},${j}`, p.title);
      }
    }
  }
  for (const p of panels.filter((p) => p.type !== "row")) {
    assert.deepEqual(p.datasource, { type: "prometheus", uid: "${datasource}" }, p.title);
    assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
    for (const target of p.targets ?? []) {
      assert.ok(target.expr && target.refId, `${p.title}: a target without expr or refId`);
      assert.deepEqual(target.datasource, p.datasource, `${p.title}: target data source`);
    }
  }

  // Readiness, VNIs, entries per VNI, route events and skips, FDB writes and
  // errors, event → kernel latency, reconnects, memory and CPU.
  const read = new Set(dashboardExprs(dashboard).flatMap(([, e]) => queriedMetrics(e)));
  for (
    const name of [
      "evpn_agent_ready",
      "evpn_agent_vnis_online",
      "evpn_agent_flood_entries",
      "evpn_agent_flood_entries_missing",
      "evpn_agent_flood_entries_extra",
      "evpn_agent_route_events_total",
      "evpn_agent_routes_skipped_total",
      "evpn_agent_fdb_operations_total",
      "evpn_agent_event_to_kernel_seconds_bucket",
      "evpn_agent_bgp_stream_losses_total",
      "evpn_agent_gobgp_api_errors_total",
      "evpn_agent_resyncs_total",
      "evpn_agent_netlink_overruns_total",
      "process_resident_memory_bytes",
      "process_cpu_seconds_total",
    ]
  ) {
    assert.ok(read.has(name), `no panel reads ${name}`);
  }
  const errors = dashboardExprs(dashboard).filter(([, e]) => /result="error"/.test(e));
  assert.ok(errors.length > 0, "no panel for FDB write errors");
});

Deno.test({
  name: "every dashboard query parses as PromQL (promtool, as recording rules)",
  ignore: promtoolGate.ignore,
  async fn() {
    promtoolGate.check();
    const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD_FILE));
    const exprs = dashboardExprs(dashboard);
    const rules = exprs.map(([, expr], i) => ({
      record: `dashboard:query_${i}`,
      expr: withoutGrafanaVariables(expr),
    }));
    const dir = await Deno.makeTempDir({ prefix: "evpn-dashboard-" });
    try {
      const file = `${dir}/dashboard-queries.yaml`;
      await Deno.writeTextFile(file, toYaml({ groups: [{ name: "dashboard", rules }] }));
      const r = await command("promtool", ["check", "rules", file]);
      assert.equal(r.code, 0, `promtool check rules:\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));

      // The check is real: a broken query is refused.
      await Deno.writeTextFile(
        file,
        toYaml({ groups: [{ name: "d", rules: [{ record: "x", expr: "sum(rate(x[1m])" }] }] }),
      );
      assert.notEqual((await command("promtool", ["check", "rules", file])).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the chart's rules and dashboard are monitoring/'s files, byte for byte", async () => {
  for (const [source, copy] of Object.entries(CHART_COPIES)) {
    const a = await Deno.readTextFile(source);
    const b = await Deno.readTextFile(copy);
    assert.ok(
      a === b,
      `${copy.slice(REPO_DIR.length + 1)} differs from ${source.slice(REPO_DIR.length + 1)}: ` +
        `cp ${source.slice(REPO_DIR.length + 1)} ${copy.slice(REPO_DIR.length + 1)}`,
    );
  }
});

Deno.test("the rules and the dashboard read only evpn_agent_*, process_* and up", async () => {
  const uses = await monitoredMetrics();
  assert.ok(uses.size >= 15, `only ${uses.size} metrics read`);
  const foreign = [...uses.keys()].filter((n) => !/^(evpn_agent_|process_)/.test(n) && n !== "up");
  assert.deepEqual(foreign, [], "metrics from other exporters");
});

const yamllintGate = needTools("monitoring yamllint test", ["yamllint"]);
Deno.test({
  name: "the rule files pass yamllint (strict)",
  ignore: yamllintGate.ignore,
  async fn() {
    yamllintGate.check();
    const config = `${REPO_DIR}/monitoring/.yamllint`;
    const r = await command("yamllint", [
      "--strict",
      "-c",
      config,
      config,
      RULES_FILE,
      RULES_TEST_FILE,
    ]);
    assert.equal(r.code, 0, `yamllint:\n${r.stdout}${r.stderr}`);
  },
});
