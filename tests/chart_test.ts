/**
 * The Helm chart and the hub-spoke deploy script, tested without Helm or a
 * cluster (neither exists on these machines):
 *
 * - the chart's init-container script (charts/evpn-agent/files/render-config.sh)
 *   runs under `busybox sh` for a hub and two spokes; gobgpd accepts its TOML
 *   (--dry-run) and the agent's own loader accepts its YAML;
 * - real gobgpd daemons started on that output in network namespaces form the
 *   hub-spoke topology (dynamic neighbours, route reflection) and the agents,
 *   run with the compiled executable's permissions, converge on it; each
 *   daemon has only its container's capabilities (setpriv); the agent's real
 *   /metrics has every metric the alerts and the dashboard query, and the
 *   daemons' RSS fits the chart's memory requests;
 * - gobgpd binds 179 with its securityContext's capabilities and dies
 *   without NET_BIND_SERVICE;
 * - the workload (Deployment or DaemonSet) hands the script exactly the
 *   inputs it reads, templates use only keys values.yaml defines, values.yaml
 *   matches values.schema.json, which refuses bad kinds and monitoring
 *   combinations; every container drops ALL and has a read-only root; each
 *   monitoring object is optional;
 * - scripts/deploy-hub-spokes.sh drives kubectl and helm (stand-ins here) as
 *   the seed's did, and fails clearly;
 * - shellcheck on every script, yamllint on Chart.yaml and values.yaml.
 *
 * The namespace and capability tests need root: skipped otherwise, except
 * with CI=true where they fail. Missing tools fail with CI=true too.
 */
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { loadConfig, type ResolvedConfig, UserConfigSchema } from "../src/config/mod.ts";
import { makeCommunity } from "../src/net/community.ts";
import { rootOnly } from "../scripts/lab/privileges.ts";
import { type ProcessHandle, spawnLogged } from "../scripts/lab/proc.ts";
import {
  cacheDependencies,
  type LabNode,
  run,
  StopWaiting,
  tail,
  Topology,
  waitFor,
} from "../scripts/lab/topology.ts";
import {
  applyHelmSets,
  buildPermissions,
  CHART_DIR,
  command,
  type ContainerSecurityContext,
  exists,
  memoryBytes,
  needTools,
  RENDER_SCRIPT,
  renderConfig,
  REPO_DIR,
  rssBytes,
  setprivPrefix,
} from "./_chart.ts";
import { monitoredMetrics, PROMETHEUS_SERIES } from "./_monitoring.ts";
import { parseExposition, sampleValue } from "./_ops_prom.ts";

// ---------------------------------------------------------------------------
// Fixtures: the render-config.sh environment the Deployment template gives a
// pod for the values scripts/deploy-hub-spokes.sh sets (hub: RR + dynamic
// neighbours; spokes: one static neighbour, the hub), with the underlay
// 192.0.2.0/24 of the namespaces standing in for the pod network.

const ASN = "65000";
const DYNAMIC_PREFIX = "192.0.2.0/24";
const HUB_IP = "192.0.2.10";

/** Every variable the template sets, at the chart's default values. */
const DEFAULT_ENV: Readonly<Record<string, string>> = {
  GOBGP_ENABLED: "true",
  GOBGP_ASN: ASN,
  GOBGP_ROUTER_ID: "",
  GOBGP_FAMILIES: "ipv4-unicast l2vpn-evpn",
  GOBGP_MULTIHOP_TTL: "0",
  GOBGP_CONNECT_RETRY: "5",
  GOBGP_GRACEFUL_RESTART: "true",
  GOBGP_RESTART_TIME: "120",
  GOBGP_ROUTE_SERVER: "false",
  GOBGP_RR_ENABLED: "false",
  GOBGP_RR_CLIENT: "false",
  GOBGP_RR_CLUSTER_ID: "",
  GOBGP_DYNAMIC_ENABLED: "false",
  GOBGP_DYNAMIC_PREFIX: "",
  GOBGP_DYNAMIC_PEER_AS: ASN,
  GOBGP_NEIGHBORS: "",
  AGENT_LOG_LEVEL: "info",
  AGENT_ADVERTISE_SELF: "true",
  AGENT_COMMUNITY_ASN: ASN,
  AGENT_GOBGP_ADDRESS: "127.0.0.1:50051",
  AGENT_GOBGP_TIMEOUT: "5s",
  AGENT_LOCAL_INTERFACE: "eth0",
  AGENT_LOCAL_ADDRESS: "",
  AGENT_ADDRESS_FAMILY: "",
  AGENT_VXLAN_PORT: "4789",
  AGENT_SKIP_LINK_CLEANUP: "false",
  AGENT_AUTO_RECREATE_VXLAN: "false",
  AGENT_VNIS: "",
  AGENT_HTTP_ENABLED: "true",
  AGENT_HTTP_ADDRESS: "",
  AGENT_HTTP_PORT: "9469",
};

function hubEnv(podIp: string): Record<string, string> {
  return {
    ...DEFAULT_ENV,
    POD_IP: podIp,
    GOBGP_MULTIHOP_TTL: "8",
    GOBGP_DYNAMIC_ENABLED: "true",
    GOBGP_DYNAMIC_PREFIX: DYNAMIC_PREFIX,
    GOBGP_RR_ENABLED: "true",
    GOBGP_RR_CLIENT: "true",
  };
}

function spokeEnv(podIp: string): Record<string, string> {
  return {
    ...DEFAULT_ENV,
    POD_IP: podIp,
    GOBGP_MULTIHOP_TTL: "8",
    // The template's form of gobgp.neighbors[0] = {address: HUB_IP, asn: 65000}.
    GOBGP_NEIGHBORS: `${HUB_IP},${ASN},`,
  };
}

/** The node's view for the config loader: eth0 holds the pod IP. */
function podEnv(podIp: string) {
  return {
    interfaceAddresses: (name: string) => name === "eth0" ? [podIp] : undefined,
  };
}

/** Whether the agent's config schema knows `http` (issue 5) yet. */
const LOADER_KNOWS_HTTP = "http" in UserConfigSchema.shape;

/**
 * The rendered agent config as this checkout's loader can take it: while the
 * loader does not know `http` yet, that section (present in the file) is
 * dropped, with a note.
 */
async function agentConfigForLoader(path: string, outPath: string): Promise<string> {
  const text = await Deno.readTextFile(path);
  if (LOADER_KNOWS_HTTP) {
    await Deno.writeTextFile(outPath, text);
    return outPath;
  }
  const doc = parseYaml(text) as Record<string, unknown>;
  assert.ok(doc["http"] !== undefined, `${path} has no http section`);
  delete doc["http"];
  await Deno.writeTextFile(outPath, toYaml(doc));
  return outPath;
}

if (!LOADER_KNOWS_HTTP) {
  console.log(
    "note: src/config does not know `http` yet (issue 5): rendered agent configs are " +
      "checked without their http section, and the health endpoints are not probed",
  );
}

async function tempDir(t: string): Promise<string> {
  return await Deno.makeTempDir({ prefix: `evpn-chart-${t}-` });
}

// ---------------------------------------------------------------------------
// Linters

/** Every shell script of the project: *.sh under scripts/ and charts/, and .ci/run. */
async function shellScripts(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && entry.name.endsWith(".sh")) found.push(path);
    }
  };
  await walk(`${REPO_DIR}/scripts`);
  await walk(`${REPO_DIR}/charts`);
  if (await exists(`${REPO_DIR}/.ci/run`)) found.push(`${REPO_DIR}/.ci/run`);
  return found.sort();
}

const shellcheckGate = needTools("shellcheck test", ["shellcheck"]);
Deno.test({
  name: "every shell script passes shellcheck (render-config.sh as POSIX sh)",
  ignore: shellcheckGate.ignore,
  async fn() {
    shellcheckGate.check();
    const scripts = await shellScripts();
    for (
      const must of [
        RENDER_SCRIPT,
        `${REPO_DIR}/scripts/deploy-hub-spokes.sh`,
        `${REPO_DIR}/scripts/build.sh`,
      ]
    ) {
      assert.ok(scripts.includes(must), `${must} was not found`);
    }
    const r = await command("shellcheck", ["--external-sources", ...scripts]);
    assert.equal(r.code, 0, `shellcheck:\n${r.stdout}${r.stderr}`);
    const posix = await command("shellcheck", ["--shell=sh", RENDER_SCRIPT]);
    assert.equal(posix.code, 0, `shellcheck --shell=sh:\n${posix.stdout}`);
  },
});

const yamllintGate = needTools("yamllint test", ["yamllint"]);
Deno.test({
  name: "Chart.yaml and values.yaml pass yamllint (strict)",
  ignore: yamllintGate.ignore,
  async fn() {
    yamllintGate.check();
    const files = ["Chart.yaml", "values.yaml", ".yamllint"].map((f) => `${CHART_DIR}/${f}`);
    const r = await command("yamllint", ["--strict", "-c", `${CHART_DIR}/.yamllint`, ...files]);
    assert.equal(r.code, 0, `yamllint:\n${r.stdout}${r.stderr}`);
  },
});

// ---------------------------------------------------------------------------
// Values and schema

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

async function chartValues(): Promise<{ [key: string]: Json }> {
  return parseYaml(await Deno.readTextFile(`${CHART_DIR}/values.yaml`));
}

async function schemaValidator() {
  const schema = JSON.parse(await Deno.readTextFile(`${CHART_DIR}/values.schema.json`));
  // strict: unknown keywords and loose `required`/type combinations are errors.
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(schema);
  return (values: Json): string[] =>
    validate(values)
      ? []
      : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`);
}

Deno.test("values.yaml matches values.schema.json, and the schema refuses bad values", async (t) => {
  const check = await schemaValidator();
  const values = await chartValues();
  assert.deepEqual(check(values), []);

  const refused = async (what: string, sets: string[], expect: RegExp) => {
    await t.step(`refuses ${what}`, () => {
      const errors = check(applyHelmSets(values, sets));
      assert.ok(errors.some((e) => expect.test(e)), `${what}: got ${JSON.stringify(errors)}`);
    });
  };
  await refused("an unknown key (a typo)", ["--set", "gobgp.asnn=1"], /additional properties/);
  await refused("gobgp.enabled=false without agent.gobgpAddress", [
    "--set",
    "gobgp.enabled=false",
  ], /gobgpAddress/);
  await refused("dynamic neighbours without a prefix", [
    "--set",
    "gobgp.dynamic.enabled=true",
  ], /prefix/);
  await refused("an AS number out of range", ["--set", "gobgp.asn=4294967296"], /asn/);
  await refused("a malformed community", [
    "--set",
    "agent.vnis[0].id=10010",
    "--set-string",
    "agent.vnis[0].community=65536:1",
  ], /community/);
  await refused("a neighbour that is not an IPv4 address", [
    "--set",
    "gobgp.neighbors[0].address=hub.example",
  ], /address/);
  await refused("a pull policy Kubernetes does not know", [
    "--set-string",
    "image.pullPolicy=Sometimes",
  ], /pullPolicy/);

  await t.step("accepts an external gobgpd", () => {
    assert.deepEqual(
      check(applyHelmSets(values, [
        "--set",
        "gobgp.enabled=false",
        "--set",
        "agent.gobgpAddress=192.0.2.1:50051",
      ])),
      [],
    );
  });
});

/** Every `.Values.a.b` path used in the chart's templates. */
async function templateValuePaths(): Promise<Map<string, string>> {
  const paths = new Map<string, string>();
  for await (const entry of Deno.readDir(`${CHART_DIR}/templates`)) {
    const text = await Deno.readTextFile(`${CHART_DIR}/templates/${entry.name}`);
    for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      paths.set(m[1]!.slice(1), entry.name);
    }
  }
  return paths;
}

Deno.test("the templates use only keys that values.yaml defines", async () => {
  const values = await chartValues();
  const paths = await templateValuePaths();
  assert.ok(paths.size > 30, `only ${paths.size} .Values paths found`);
  const missing: string[] = [];
  for (const [path, file] of paths) {
    let node: Json | undefined = values;
    for (const key of path.split(".")) {
      node = node !== null && typeof node === "object" && !Array.isArray(node)
        ? node[key]
        : undefined;
      if (node === undefined) break;
    }
    if (node === undefined) missing.push(`${file}: .Values.${path}`);
  }
  assert.deepEqual(missing, []);
});

/** The security-related values the tests read. */
interface ChartSecurity {
  podSecurityContext: { seccompProfile?: { type?: string } };
  securityContext: ContainerSecurityContext;
  resources: { requests: { cpu: string; memory: string }; limits: { memory: string } };
  gobgp: {
    securityContext: ContainerSecurityContext;
    resources: { requests: { memory: string }; limits: { memory: string } };
  };
  init: { securityContext: ContainerSecurityContext };
}

async function template(name: string): Promise<string> {
  return await Deno.readTextFile(`${CHART_DIR}/templates/${name}`);
}

Deno.test("values refuse an unknown kind and contradictory monitoring, accept each kind", async (t) => {
  const check = await schemaValidator();
  const values = await chartValues();
  const refused = async (what: string, sets: string[], expect: RegExp) => {
    await t.step(`refuses ${what}`, () => {
      const errors = check(applyHelmSets(values, sets));
      assert.ok(errors.some((e) => expect.test(e)), `${what}: got ${JSON.stringify(errors)}`);
    });
  };
  await refused("kind=StatefulSet", ["--set", "kind=StatefulSet"], /kind .*allowed values/);
  await refused("a PodMonitor and a ServiceMonitor at once", [
    "--set",
    "monitoring.podMonitor.enabled=true",
    "--set",
    "monitoring.serviceMonitor.enabled=true",
  ], /must NOT be valid/);
  await refused("a PodMonitor without the HTTP endpoint", [
    "--set",
    "monitoring.podMonitor.enabled=true",
    "--set",
    "agent.http.enabled=false",
  ], /agent\/http\/enabled must be equal to constant/);
  await refused("a scrape interval that is not a duration", [
    "--set",
    "monitoring.podMonitor.interval=30",
  ], /interval/);
  await refused("a dashboard without a sidecar label", [
    "--set",
    "monitoring.dashboard.labels=null",
  ], /labels/);
  for (
    const sets of [
      ["--set", "kind=DaemonSet"],
      ["--set", "kind=DaemonSet", "--set", "hostNetwork=false"],
      ["--set", "kind=Deployment", "--set", "hostNetwork=true"],
      [
        "--set",
        "monitoring.podMonitor.enabled=true",
        "--set",
        "monitoring.prometheusRule.enabled=true",
        "--set",
        "monitoring.dashboard.enabled=true",
      ],
      ["--set", "monitoring.serviceMonitor.enabled=true"],
    ]
  ) {
    await t.step(`accepts ${sets.filter((_, i) => i % 2).join(" ")}`, () => {
      assert.deepEqual(check(applyHelmSets(values, sets)), []);
    });
  }
});

Deno.test("the workload template is a Deployment or a DaemonSet, hostNetwork by kind", async () => {
  const workload = await template("workload.yaml");
  const helpers = await template("_helpers.tpl");
  assert.match(workload, /^kind: \{\{ \.Values\.kind \}\}$/m);
  // replicas only in the Deployment branch, updateStrategy only in the other.
  assert.match(
    workload,
    /\{\{- if eq \.Values\.kind "Deployment" \}\}\n {2}replicas: \{\{ \.Values\.replicas \}\}\n {2}\{\{- else \}\}\n {2}\{\{- with \.Values\.updateStrategy \}\}/,
  );
  assert.match(workload, /hostNetwork: \{\{ \$hostNetwork \}\}/);
  assert.match(workload, /ClusterFirstWithHostNet/);
  assert.match(
    helpers,
    /define "evpn-agent\.hostNetwork"[\s\S]*kindIs "invalid" \.Values\.hostNetwork[\s\S]*eq \.Values\.kind "DaemonSet"/,
  );
  assert.equal((await chartValues())["hostNetwork"], null, "hostNetwork defaults to by-kind");
  assert.match(await template("NOTES.txt"), /pod-security\.kubernetes\.io\/enforce=privileged/);
});

Deno.test("every container drops ALL, adds only what it needs, and has a read-only root", async () => {
  const values = await chartValues() as unknown as ChartSecurity;
  assert.equal(values.podSecurityContext.seccompProfile?.type, "RuntimeDefault");
  const containers: [string, ContainerSecurityContext, string[]][] = [
    ["evpn-agent", values.securityContext, ["NET_ADMIN"]],
    ["gobgpd", values.gobgp.securityContext, ["NET_BIND_SERVICE"]],
    ["render-config", values.init.securityContext, []],
  ];
  for (const [name, context, add] of containers) {
    assert.deepEqual(context.capabilities?.drop, ["ALL"], `${name}: drop`);
    assert.deepEqual(context.capabilities?.add ?? [], add, `${name}: add`);
    assert.equal(context.readOnlyRootFilesystem, true, `${name}: readOnlyRootFilesystem`);
    assert.equal(context.allowPrivilegeEscalation, false, `${name}: allowPrivilegeEscalation`);
    assert.notEqual(context.privileged, true, `${name}: privileged`);
  }
  const workload = await template("workload.yaml");
  for (
    const key of [
      ".Values.podSecurityContext",
      ".Values.securityContext",
      ".Values.gobgp.securityContext",
      ".Values.init.securityContext",
    ]
  ) {
    assert.match(
      workload,
      new RegExp(`\\{\\{- with ${key.replaceAll(".", "\\.")} \\}\\}\\n +securityContext:`),
    );
  }
  // The agent's writable /tmp under a read-only root.
  assert.match(workload, /- name: agent-tmp\n +mountPath: \/tmp/);
  // Requests cover the README's measured footprint at 20,000 entries (115 MiB)
  // and the limit its 100,000-entry peak (215 MiB).
  assert.ok(memoryBytes(values.resources.requests.memory) >= 115 * 2 ** 20);
  assert.ok(memoryBytes(values.resources.limits.memory) >= 215 * 2 ** 20);
});

Deno.test("each monitoring object is optional and reads the chart's copy of monitoring/", async () => {
  const objects: [string, string, string[]][] = [
    ["podmonitor.yaml", "podMonitor", ["kind: PodMonitor"]],
    ["servicemonitor.yaml", "serviceMonitor", ["kind: ServiceMonitor", "kind: Service"]],
    ["prometheusrule.yaml", "prometheusRule", [
      "kind: PrometheusRule",
      '.Files.Get "files/prometheus-rules.yaml"',
    ]],
    ["configmap-dashboard.yaml", "dashboard", [
      "kind: ConfigMap",
      '.Files.Get "files/dashboards/evpn-agent.json"',
      "toYaml .Values.monitoring.dashboard.labels",
    ]],
  ];
  const values = await chartValues();
  const monitoring = values["monitoring"] as Record<string, Record<string, Json>>;
  for (const [file, key, needles] of objects) {
    const text = await template(file);
    assert.ok(
      text.startsWith(`{{- if .Values.monitoring.${key}.enabled }}\n`) &&
        text.trimEnd().endsWith("{{- end }}"),
      `${file} is not wrapped in monitoring.${key}.enabled`,
    );
    for (const needle of needles) assert.ok(text.includes(needle), `${file}: ${needle}`);
    assert.equal(monitoring[key]?.["enabled"], false, `monitoring.${key} is on by default`);
  }
  for (const file of ["podmonitor.yaml", "servicemonitor.yaml"]) {
    const text = await template(file);
    assert.match(text, /include "evpn-agent\.requireHttp"/);
    // The alerts select on job="evpn-agent".
    assert.match(text, /targetLabel: job\n +replacement: evpn-agent/);
  }
  assert.deepEqual(monitoring["dashboard"]?.["labels"], { grafana_dashboard: "1" });
  for (const path of ["files/prometheus-rules.yaml", "files/dashboards/evpn-agent.json"]) {
    assert.ok(await exists(`${CHART_DIR}/${path}`), `${path} is missing`);
  }
});

const capsGate = rootOnly("gobgpd capability test");
/** A line of `ss -Hltn` for a listener on port 179. */
const LISTEN_179 = /^LISTEN\s+\d+\s+\d+\s+\S+:179\s/m;
const capsTools = needTools("gobgpd capability test", ["gobgpd", "setpriv", "unshare", "ip"]);

Deno.test({
  name: "gobgpd binds port 179 with its securityContext's capabilities, and dies without them",
  ignore: capsGate.ignore || capsTools.ignore,
  async fn() {
    capsGate.check();
    capsTools.check();
    const values = await chartValues() as unknown as ChartSecurity;
    const context = values.gobgp.securityContext;
    const dir = await tempDir("caps");
    try {
      const config = `${dir}/gobgpd.toml`;
      await Deno.writeTextFile(
        config,
        '[global.config]\n  as = 65000\n  router-id = "192.0.2.99"\n',
      );
      /** gobgpd for 3 s in a new network namespace (loopback only); its log and listeners. */
      const trial = async (ctx: ContainerSecurityContext) => {
        const gobgpd = [
          ...setprivPrefix(ctx),
          "gobgpd",
          "-f",
          config,
          "--api-hosts",
          "127.0.0.1:50051",
          "--log-plain",
          "--pprof-disable",
        ].map((a) => `'${a}'`).join(" ");
        const script = `ip link set lo up; ${gobgpd} & pid=$!; sleep 3; ss -Hltn; ` +
          `if kill "$pid" 2>/dev/null; then wait "$pid"; echo STILL-RUNNING; fi`;
        return await command("unshare", ["--net", "sh", "-c", script]);
      };
      const withCaps = await trial(context);
      assert.match(
        withCaps.stdout,
        LISTEN_179,
        `no listener on 179:\n${withCaps.stdout}${withCaps.stderr}`,
      );
      assert.match(withCaps.stdout, /STILL-RUNNING/);
      const without = await trial({
        ...context,
        capabilities: {
          drop: ["ALL"],
          add: (context.capabilities?.add ?? []).filter((c) => c !== "NET_BIND_SERVICE"),
        },
      });
      assert.doesNotMatch(without.stdout, /STILL-RUNNING/, without.stdout);
      assert.doesNotMatch(without.stdout, LISTEN_179, without.stdout);
      assert.match(without.stdout + without.stderr, /bind: permission denied/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The variables render-config.sh reads (`NAME=${NAME:-...}`) plus POD_IP. */
async function scriptInputs(): Promise<string[]> {
  const text = await Deno.readTextFile(RENDER_SCRIPT);
  const names = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=\$\{\1:-/gm)].map((m) => m[1]!);
  return [...new Set(names)].sort();
}

Deno.test("the workload passes render-config.sh every input it reads, all documented", async () => {
  const inputs = await scriptInputs();
  const deployment = await Deno.readTextFile(`${CHART_DIR}/templates/workload.yaml`);
  const start = deployment.indexOf("- name: render-config");
  const end = deployment.indexOf("volumeMounts:", start);
  assert.ok(start >= 0 && end > start, "no render-config init container in workload.yaml");
  const passed = [
    ...deployment.slice(start, end).matchAll(/- name: ([A-Z][A-Z0-9_]*)$/gm),
  ].map((m) => m[1]!).sort();
  assert.deepEqual(passed, inputs, "template env vs. script inputs");

  const script = await Deno.readTextFile(RENDER_SCRIPT);
  const documented = [...script.matchAll(/^# {3}([A-Z][A-Z0-9_]*) /gm)].map((m) => m[1]!).sort();
  assert.deepEqual(documented, inputs, "inputs documented in the script's header");

  // The fixtures set exactly what the template sets (renderConfig() adds the output paths).
  const fixture = [...Object.keys(DEFAULT_ENV), "POD_IP", "AGENT_CONFIG_FILE", "GOBGPD_CONFIG_FILE"]
    .sort();
  assert.deepEqual(fixture, inputs, "test fixtures vs. script inputs");
});

// ---------------------------------------------------------------------------
// deploy-hub-spokes.sh with stand-ins for kubectl and helm

const DEPLOY = `${REPO_DIR}/scripts/deploy-hub-spokes.sh`;

const KUBECTL_STUB = `#!/usr/bin/env bash
# Stand-in for kubectl: logs its argv; answers the hub pod IP query.
printf '%s\\0' "$@" >>"$STUB_LOG.kubectl"; printf '\\n' >>"$STUB_LOG.kubectl"
case "$*" in
  "get namespace "*) exit 1 ;;
  *"get pods -l app.kubernetes.io/instance=$STUB_HUB_RELEASE --field-selector"*)
    for ip in $STUB_HUB_IPS; do printf '%s\\n' "$ip"; done ;;
esac
exit 0
`;

const HELM_STUB = `#!/usr/bin/env bash
# Stand-in for helm: logs its argv, one invocation per line (NUL-separated).
printf '%s\\0' "$@" >>"$STUB_LOG.helm"; printf '\\n' >>"$STUB_LOG.helm"
exit 0
`;

interface DeployRun {
  code: number;
  stdout: string;
  stderr: string;
  /** argv of each helm invocation. */
  helm: string[][];
  kubectl: string[][];
}

async function runDeploy(
  parent: string,
  env: Record<string, string>,
  args: string[] = ["evpntest"],
): Promise<DeployRun> {
  const dir = await Deno.makeTempDir({ dir: parent }); // fresh call logs per run
  await Deno.writeTextFile(`${dir}/kubectl`, KUBECTL_STUB, { mode: 0o755 });
  await Deno.writeTextFile(`${dir}/helm`, HELM_STUB, { mode: 0o755 });
  const log = `${dir}/calls`;
  const r = await command("bash", [DEPLOY, ...args], {
    env: {
      KUBECTL: `${dir}/kubectl`,
      HELM: `${dir}/helm`,
      STUB_LOG: log,
      STUB_HUB_RELEASE: env["HUB_RELEASE"] ?? "evpn-hub",
      ...env,
    },
  });
  const calls = async (what: string) => {
    const text = await Deno.readTextFile(`${log}.${what}`).catch(() => "");
    return text.split("\n").filter((l) => l !== "").map((l) => l.split("\0").slice(0, -1));
  };
  return { ...r, helm: await calls("helm"), kubectl: await calls("kubectl") };
}

Deno.test("deploy-hub-spokes.sh deploys the hub, waits for its IP, then spokes peering with it", async (t) => {
  const dir = await tempDir("deploy");
  try {
    const check = await schemaValidator();
    const values = await chartValues();
    const r = await runDeploy(dir, {
      STUB_HUB_IPS: "10.244.1.5 10.244.2.7",
      HUB_REPLICAS: "2",
      SPOKE_REPLICAS: "3",
      SPOKE_ASN: "65001",
      IMAGE_TAG: "0.1.0",
      HUB_NODE: "node-a",
    }, ["evpnlab"]);
    assert.equal(r.code, 0, `deploy failed:\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.helm.length, 2, `helm calls: ${JSON.stringify(r.helm)}`);
    const [hub, spokes] = r.helm as [string[], string[]];

    await t.step("creates the namespace when it is missing", () => {
      assert.ok(r.kubectl.some((c) => c.join(" ") === "create namespace evpnlab"));
    });
    await t.step("hub: RR with dynamic neighbours, pinned, waited for", () => {
      assert.deepEqual(hub.slice(0, 4), ["upgrade", "--install", "evpn-hub", CHART_DIR]);
      const v = applyHelmSets(values, hub) as Record<string, Record<string, Json>>;
      assert.deepEqual(check(v), []);
      const gobgp = v["gobgp"] as Record<string, Json>;
      assert.equal(gobgp["asn"], 65000);
      assert.deepEqual(gobgp["dynamic"], {
        enabled: true,
        prefix: "10.244.0.0/16",
        peerAs: 65001,
      });
      assert.deepEqual(gobgp["rr"], { enabled: true, client: true, clusterID: "" });
      assert.deepEqual(v["nodeSelector"], { "kubernetes.io/hostname": "node-a" });
      assert.equal(v["replicas"] as unknown, 2);
      assert.ok(hub.includes("--wait"));
    });
    await t.step("spokes: one static neighbour per hub pod, RR off", () => {
      assert.deepEqual(spokes.slice(0, 4), ["upgrade", "--install", "evpn-spokes", CHART_DIR]);
      const v = applyHelmSets(values, spokes) as Record<string, Record<string, Json>>;
      assert.deepEqual(check(v), []);
      const gobgp = v["gobgp"] as Record<string, Json>;
      assert.equal(gobgp["asn"], 65001);
      assert.deepEqual(gobgp["neighbors"], [
        { address: "10.244.1.5", asn: 65000 },
        { address: "10.244.2.7", asn: 65000 },
      ]);
      assert.deepEqual(gobgp["rr"], { enabled: false, client: false, clusterID: "" });
      assert.equal((gobgp["dynamic"] as Record<string, Json>)["enabled"], false);
      assert.equal((v["image"] as Record<string, Json>)["tag"], "0.1.0");
      assert.equal(v["replicas"] as unknown, 3);
    });
    await t.step("prints the verification commands", () => {
      assert.match(r.stdout, /exec deploy\/evpn-hub-evpn-agent -c gobgpd -- gobgp neighbor/);
      assert.match(r.stdout, /exec deploy\/evpn-spokes-evpn-agent -c gobgpd -- gobgp neighbor/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deploy-hub-spokes.sh fails clearly without kubectl or helm, or when the hub gets no IP", async (t) => {
  const dir = await tempDir("deploy-fail");
  try {
    await t.step("no kubectl", async () => {
      const r = await runDeploy(dir, { KUBECTL: `${dir}/absent/kubectl` });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /kubectl.* not found: install kubectl/);
      assert.deepEqual(r.helm, []);
    });
    await t.step("no helm", async () => {
      const r = await runDeploy(dir, { HELM: `${dir}/absent/helm` });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /helm.* not found: install Helm/);
    });
    await t.step("the hub never gets an IP", async () => {
      const start = performance.now();
      const r = await runDeploy(dir, { STUB_HUB_IPS: "", HUB_IP_TIMEOUT: "1" });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the hub never got its pod IP\(s\) within 1s \(have 0 of 1\)/);
      assert.equal(r.helm.length, 1, "the spokes must not be deployed");
      assert.ok(performance.now() - start < 15_000);
    });
    await t.step("a bad setting is refused before anything runs", async () => {
      const r = await runDeploy(dir, { HUB_ASN: "AS65000" });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /HUB_ASN "AS65000" is not an AS number/);
      assert.deepEqual(r.helm, []);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// render-config.sh under busybox

const busyboxGate = needTools("render-config.sh tests", ["busybox"]);

Deno.test({
  name: "render-config.sh refuses bad input, naming the variable, the value and the Helm key",
  ignore: busyboxGate.ignore,
  async fn(t) {
    busyboxGate.check();
    const dir = await tempDir("refuse");
    try {
      const refused = async (what: string, env: Record<string, string>, expect: RegExp[]) => {
        await t.step(what, async () => {
          const out = `${dir}/${what.replace(/\W+/g, "-")}`;
          const r = await renderConfig({ ...hubEnv("192.0.2.10"), ...env }, out);
          assert.equal(r.code, 2, `exit code; stderr:\n${r.stderr}`);
          for (const e of expect) assert.match(r.stderr, e);
          assert.match(r.stderr, /nothing written/);
          assert.equal(await exists(r.agentConfig), false);
          assert.equal(await exists(r.gobgpdConfig), false);
        });
      };
      await refused("no pod IP", { POD_IP: "" }, [/POD_IP is empty/]);
      await refused("an IPv6 pod IP and no router id", { POD_IP: "2001:db8::1" }, [
        /GOBGP_ROUTER_ID \(gobgp\.routerID\) "2001:db8::1" is IPv6 .*set gobgp\.routerID/,
      ]);
      await refused("an IPv6 VTEP without ipv6-unicast", {
        POD_IP: "2001:db8::1",
        GOBGP_ROUTER_ID: "192.0.2.1",
        GOBGP_DYNAMIC_PREFIX: "2001:db8::/64",
      }, [
        /GOBGP_FAMILIES \(gobgp\.families\) "ipv4-unicast l2vpn-evpn" lacks ipv6-unicast, which the IPv6 VTEP 2001:db8::1 needs/,
      ]);
      await refused("a bad address family", { AGENT_ADDRESS_FAMILY: "inet6" }, [
        /AGENT_ADDRESS_FAMILY \(agent\.addressFamily\) "inet6" is not one of ipv4, ipv6/,
      ]);
      await refused("every bad value at once", {
        GOBGP_ASN: "0",
        GOBGP_DYNAMIC_PREFIX: "192.0.2.0/33",
        GOBGP_FAMILIES: "ipv4-unicast evpn",
        GOBGP_RESTART_TIME: "5000",
        GOBGP_NEIGHBORS: "192.0.2.300 192.0.2.1,x *",
        AGENT_LOG_LEVEL: "loud",
        AGENT_GOBGP_TIMEOUT: "5",
        AGENT_VNIS: "10010,65000:99999 0 7,,a/b",
        AGENT_HTTP_PORT: "65536",
      }, [
        /GOBGP_ASN \(gobgp\.asn\) "0" is not an integer in 1\.\.4294967295/,
        /GOBGP_DYNAMIC_PREFIX \(gobgp\.dynamic\.prefix\) "192\.0\.2\.0\/33"/,
        /GOBGP_FAMILIES \(gobgp\.families\) "evpn" is not one of/,
        /GOBGP_RESTART_TIME \(gobgp\.gracefulRestart\.restartTime\) "5000" is not an integer in 1\.\.4095/,
        /gobgp\.neighbors\[\]\.address in "192\.0\.2\.300"/,
        /gobgp\.neighbors\[\]\.asn in "192\.0\.2\.1,x"/,
        /"\*" is not an IPv4 or IPv6 address/,
        /AGENT_LOG_LEVEL \(agent\.logLevel\) "loud"/,
        /AGENT_GOBGP_TIMEOUT \(agent\.gobgpTimeout\) "5" is not a duration/,
        /agent\.vnis\[\]\.community in "10010,65000:99999"/,
        /agent\.vnis\[\]\.id in "0"/,
        /agent\.vnis\[\]\.device in "7,,a\/b"/,
        /AGENT_HTTP_PORT \(agent\.http\.port\) "65536"/,
      ]);
      await refused("dynamic neighbours without a prefix", { GOBGP_DYNAMIC_PREFIX: "" }, [
        /GOBGP_DYNAMIC_PREFIX \(gobgp\.dynamic\.prefix\) is empty but gobgp\.dynamic\.enabled is true/,
      ]);
      await refused("a value with a newline", { GOBGP_ROUTER_ID: "192.0.2.1\n192.0.2.2" }, [
        /GOBGP_ROUTER_ID/,
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const dryRunGate = needTools("render-config.sh + gobgpd --dry-run test", ["busybox", "gobgpd"]);

Deno.test({
  name: "render-config.sh output is accepted by gobgpd --dry-run and by the agent's config loader",
  ignore: dryRunGate.ignore,
  async fn(t) {
    dryRunGate.check();
    const dir = await tempDir("render");
    try {
      const render = async (name: string, env: Record<string, string>) => {
        const r = await renderConfig(env, `${dir}/${name}`);
        assert.equal(r.code, 0, `render ${name} failed:\n${r.stderr}`);
        return r;
      };
      const dryRun = async (file: string) => {
        const r = await command("gobgpd", ["--dry-run", "-f", file]);
        assert.equal(r.code, 0, `gobgpd --dry-run -f ${file}:\n${r.stdout}${r.stderr}`);
      };
      const load = async (file: string, podIp: string): Promise<ResolvedConfig> =>
        await loadConfig(await agentConfigForLoader(file, `${file}.loader.yaml`), podEnv(podIp));

      await t.step("hub: route reflector for dynamic neighbours", async () => {
        const r = await render("hub", hubEnv(HUB_IP));
        const toml = await Deno.readTextFile(r.gobgpdConfig);
        assert.match(toml, /\[global\.config\]\n {2}as = 65000\n {2}router-id = "192\.0\.2\.10"/);
        assert.match(
          toml,
          /route-reflector-client = true\n +route-reflector-cluster-id = "192\.0\.2\.10"/,
        );
        assert.match(
          toml,
          /\[\[dynamic-neighbors\]\]\n.*\n +prefix = "192\.0\.2\.0\/24"\n +peer-group = "dyn-peers"/,
        );
        assert.doesNotMatch(toml, /\[\[neighbors\]\]/);
        assert.match(
          toml,
          /\[peer-groups\.graceful-restart\.config\]\n +enabled = true\n +restart-time = 120\n +notification-enabled = true/,
        );
        assert.equal(
          toml.match(/\[peer-groups\.afi-safis\.mp-graceful-restart\.config\]/g)?.length,
          2,
        );
        assert.ok(r.stdout.includes(toml), "the rendered files are echoed for kubectl logs");
        await dryRun(r.gobgpdConfig);
        const off = await render("hub-no-gr", {
          ...hubEnv(HUB_IP),
          GOBGP_GRACEFUL_RESTART: "false",
        });
        assert.doesNotMatch(await Deno.readTextFile(off.gobgpdConfig), /graceful-restart/);
        const config = await load(r.agentConfig, HUB_IP);
        assert.equal(config.node.localAddress, HUB_IP);
        assert.equal(config.gobgp.address, "127.0.0.1:50051");
        assert.equal(config.communityAsn, 65000);
        assert.deepEqual(config.vnis, []);
        assert.match(
          await Deno.readTextFile(r.agentConfig),
          /^http:\n {2}listen: "192\.0\.2\.10:9469"$/m,
        );
      });

      await t.step("spoke: one static neighbour, the hub; never itself", async () => {
        const r = await render("spoke", {
          ...spokeEnv("192.0.2.11"),
          GOBGP_NEIGHBORS: `${HUB_IP},${ASN}, 192.0.2.11,,`,
        });
        const toml = await Deno.readTextFile(r.gobgpdConfig);
        assert.equal([...toml.matchAll(/\[\[neighbors\]\]/g)].length, 1);
        assert.match(toml, /neighbor-address = "192\.0\.2\.10"\n +peer-as = 65000/);
        assert.match(toml, /local-address = "192\.0\.2\.11"/);
        assert.match(toml, /multihop-ttl = 8/);
        assert.doesNotMatch(toml, /route-reflector|dynamic-neighbors/);
        assert.match(r.stderr, /neighbour 192\.0\.2\.11 is this pod; skipped/);
        await dryRun(r.gobgpdConfig);
        assert.equal((await load(r.agentConfig, "192.0.2.11")).node.localAddress, "192.0.2.11");
      });

      await t.step("static VNIs and explicit addresses reach the agent", async () => {
        const r = await render("vnis", {
          ...spokeEnv("192.0.2.12"),
          AGENT_VNIS: "10010,,, 10011,65000:11,vx11,eth0",
          AGENT_LOCAL_ADDRESS: "192.0.2.99",
          AGENT_COMMUNITY_ASN: "65000",
          AGENT_LOG_LEVEL: "debug",
          AGENT_HTTP_ADDRESS: "0.0.0.0",
          AGENT_HTTP_PORT: "9470",
        });
        const config = await load(r.agentConfig, "192.0.2.12");
        assert.deepEqual(config.vnis.map(({ routeTargets: _, rd: _rd, ...v }) => v), [
          {
            id: 10010,
            community: makeCommunity(65000, 10010),
            device: "vxlan10010",
            underlayInterface: undefined,
          },
          {
            id: 10011,
            community: makeCommunity(65000, 11),
            device: "vx11",
            underlayInterface: "eth0",
          },
        ]);
        assert.equal(config.node.localAddress, "192.0.2.99");
        assert.equal(config.logLevel, "debug");
        assert.match(await Deno.readTextFile(r.agentConfig), /listen: "0\.0\.0\.0:9470"/);
      });

      await t.step("eBGP peers get no route-reflector settings", async () => {
        const r = await render("ebgp", {
          ...hubEnv(HUB_IP),
          GOBGP_DYNAMIC_PEER_AS: "65001",
          GOBGP_NEIGHBORS: "192.0.2.50,65002,",
        });
        const toml = await Deno.readTextFile(r.gobgpdConfig);
        assert.doesNotMatch(toml, /route-reflector/);
        assert.match(toml, /peer-as = 65001/);
        assert.match(toml, /ebgp-multihop\.config\]\n +enabled = true\n +multihop-ttl = 8/);
        assert.match(r.stderr, /peer AS 65001 is not gobgp\.asn 65000 \(eBGP\)/);
        await dryRun(r.gobgpdConfig);
      });

      await t.step("an IPv6 underlay: IPv6 sessions with ipv6-unicast, an IPv6 VTEP", async () => {
        const v6 = { GOBGP_FAMILIES: "ipv6-unicast l2vpn-evpn", GOBGP_NEIGHBORS: "" };
        const hub = await render("hub6", {
          ...hubEnv("2001:db8::10"),
          ...v6,
          GOBGP_ROUTER_ID: "192.0.2.10",
          GOBGP_DYNAMIC_PREFIX: "2001:db8::/64",
        });
        const hubToml = await Deno.readTextFile(hub.gobgpdConfig);
        assert.match(hubToml, /prefix = "2001:db8::\/64"/);
        assert.match(hubToml, /afi-safi-name = "ipv6-unicast"/);
        await dryRun(hub.gobgpdConfig);
        const r = await render("spoke6", {
          ...spokeEnv("2001:db8::11"),
          ...v6,
          GOBGP_ROUTER_ID: "192.0.2.11",
          GOBGP_NEIGHBORS: "2001:db8::10,65000, 192.0.2.10,65000,",
        });
        const toml = await Deno.readTextFile(r.gobgpdConfig);
        assert.match(
          toml,
          /neighbor-address = "2001:db8::10"\n.*\n.*\n +local-address = "2001:db8::11"/,
        );
        // No IPv6 source towards an IPv4 neighbour.
        assert.match(
          toml,
          /neighbor-address = "192\.0\.2\.10"\n +peer-as = 65000\n {2}\[neighbors\.timers/,
        );
        await dryRun(r.gobgpdConfig);
        assert.match(await Deno.readTextFile(r.agentConfig), /listen: "\[2001:db8::11\]:9469"/);
        const config = await load(r.agentConfig, "2001:db8::11");
        assert.deepEqual(
          [config.node.localAddress, config.node.addressFamily],
          ["2001:db8::11", "ipv6"],
        );
        const explicit = await render("family6", {
          ...spokeEnv("2001:db8::12"),
          ...v6,
          GOBGP_ROUTER_ID: "192.0.2.12",
          AGENT_ADDRESS_FAMILY: "ipv6",
        });
        assert.match(await Deno.readTextFile(explicit.agentConfig), /addressFamily: "ipv6"/);
      });

      await t.step("gobgp.enabled=false: no gobgpd config, an external gobgpd", async () => {
        const r = await render("external", {
          ...DEFAULT_ENV,
          POD_IP: "192.0.2.13",
          GOBGP_ENABLED: "false",
          AGENT_GOBGP_ADDRESS: "192.0.2.1:50051",
          AGENT_HTTP_ENABLED: "false",
        });
        assert.equal(await exists(r.gobgpdConfig), false);
        const text = await Deno.readTextFile(r.agentConfig);
        assert.doesNotMatch(text, /^http:/m);
        const config = await loadConfig(r.agentConfig, podEnv("192.0.2.13"));
        assert.equal(config.gobgp.address, "192.0.2.1:50051");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------
// The hub-spoke topology for real: gobgpd (and the agent) in namespaces

/** `gobgp -j global rib -a ipv4` as prefix → the best path's attributes. */
async function ribAttrs(node: LabNode): Promise<Record<string, { type: number }[]>> {
  const r = await run(node.ns, ["gobgp", "-j", "global", "rib", "-a", "ipv4"]);
  if (!r.success) throw new Error(`gobgp global rib in ${node.name}: ${r.stderr}`);
  const table = JSON.parse(r.stdout) as
    | Record<string, { best?: boolean; attrs?: { type: number }[] }[]>
    | null;
  const out: Record<string, { type: number }[]> = {};
  for (const [prefix, paths] of Object.entries(table ?? {})) {
    out[prefix] = (paths.find((p) => p.best) ?? paths[0])?.attrs ?? [];
  }
  return out;
}

/**
 * Metrics the dashboard queries that the agent leaves without samples under
 * the compiled executable's permissions (scripts/build.sh: no --allow-all):
 * Deno opens /proc/self/fd only with --allow-all, and no other source counts
 * open fds. (CPU time comes from node:process cpuUsage(), which needs no
 * permission: process_cpu_seconds_total must have samples here.) The test
 * fails once a member gets samples, so the set shrinks with each fix.
 */
const EMPTY_UNDER_BUILD_PERMISSIONS: ReadonlySet<string> = new Set([
  "process_open_fds",
]);

const rootGate = rootOnly("chart hub-spoke namespace test");
const nsTools = needTools("chart hub-spoke namespace test", [
  "busybox",
  "gobgpd",
  "gobgp",
  "ip",
  "setpriv",
]);

Deno.test({
  name: "gobgpd on render-config.sh output forms the hub-spoke topology; agents converge on it",
  ignore: rootGate.ignore || nsTools.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    rootGate.check();
    nsTools.check();
    await cacheDependencies();
    const permissions = await buildPermissions();
    const values = await chartValues() as unknown as ChartSecurity;
    const gobgpdCaps = setprivPrefix(values.gobgp.securityContext);
    const agentCaps = setprivPrefix(values.securityContext);
    const topo = await Topology.create({ spokes: 2 });
    const daemons: ProcessHandle[] = [];
    const agents: ProcessHandle[] = [];
    const hub = topo.hub;
    const [s1, s2] = [topo.spoke(1), topo.spoke(2)];
    const alive = async (handles: ProcessHandle[]) => {
      for (const h of handles) {
        if (!h.running()) throw new StopWaiting(`${h.name} exited:\n${await tail(h.log, 15)}`);
      }
    };
    try {
      assert.equal(hub.address, HUB_IP);
      const rendered = new Map<string, { agentConfig: string; gobgpdConfig: string }>();
      for (const node of topo.nodes) {
        const env = node.role === "hub" ? hubEnv(node.address) : spokeEnv(node.address);
        const r = await renderConfig(env, `${topo.workDir}/${node.name}`);
        assert.equal(r.code, 0, `render ${node.name}:\n${r.stderr}`);
        rendered.set(node.name, r);
        // The sidecar's command line, as in templates/workload.yaml, with
        // the capabilities of its securityContext only.
        daemons.push(
          await spawnLogged({
            name: `${node.name}/gobgpd`,
            ns: node.ns,
            cmd: [
              ...gobgpdCaps,
              "gobgpd",
              "-f",
              r.gobgpdConfig,
              "--api-hosts",
              "127.0.0.1:50051",
              "--log-level",
              "info",
              "--log-plain",
              "--pprof-disable",
              "--graceful-restart",
            ],
            log: topo.file(`${node.name}-gobgpd.log`),
          }),
        );
      }

      const sessions = await t.step("the spokes' sessions with the hub come up", async () => {
        await waitFor(
          async () => {
            await alive(daemons);
            const fromHub = await topo.neighbors(hub);
            for (const s of [s1, s2]) {
              const n = fromHub.find((x) => x.address === s.address);
              assert.deepEqual(
                n && { state: n.state, peerGroup: n.peerGroup },
                { state: "ESTABLISHED", peerGroup: "dyn-peers" },
                `hub's dynamic neighbour ${s.address}`,
              );
              const toHub = (await topo.neighbors(s)).find((x) => x.address === hub.address);
              assert.equal(toHub?.state, "ESTABLISHED", `${s.name} → hub`);
            }
          },
          40_000, // gobgpd 3.10 waits 5–9 s before its first connect
          "both spokes ESTABLISHED with the hub (dynamic neighbours on the hub)",
        );
      });
      if (!sessions) throw new Error("BGP sessions did not come up; see the step above");

      await t.step(
        "the hub reflects a spoke's route, with its community, and its withdrawal",
        async () => {
          await topo.exec(s1, [
            "gobgp",
            ..."global rib add -a ipv4 192.0.2.21/32 community 65000:10010".split(" "),
          ]);
          await waitFor(
            async () => {
              await alive(daemons);
              assert.deepEqual((await topo.rib(s2))["192.0.2.21/32"], ["65000:10010"]);
            },
            10_000,
            "192.0.2.21/32 with 65000:10010 on spoke2",
          );
          // Reflected, not merely forwarded: ORIGINATOR_ID (9) and CLUSTER_LIST (10).
          const attrs = (await ribAttrs(s2))["192.0.2.21/32"] ?? [];
          const types = attrs.map((a) => a.type);
          assert.ok(types.includes(9) && types.includes(10), `attrs ${JSON.stringify(attrs)}`);
          assert.deepEqual((await topo.rib(hub))["192.0.2.21/32"], ["65000:10010"]);

          await topo.exec(s1, ["gobgp", ..."global rib del -a ipv4 192.0.2.21/32".split(" ")]);
          await waitFor(
            async () => {
              await alive(daemons);
              assert.equal((await topo.rib(s2))["192.0.2.21/32"], undefined);
            },
            10_000,
            "192.0.2.21/32 withdrawn on spoke2",
          );
        },
      );

      await t.step(
        `agents (deno run ${permissions.join(" ")}, ${
          agentCaps.join(" ")
        }) converge on the topology`,
        async () => {
          for (const s of [s1, s2]) await topo.addVxlan(s, 10010);
          for (const node of topo.nodes) {
            const file = rendered.get(node.name)!.agentConfig;
            const config = await agentConfigForLoader(file, `${file}.run.yaml`);
            agents.push(
              await spawnLogged({
                name: `${node.name}/agent`,
                ns: node.ns,
                cmd: [
                  ...agentCaps,
                  Deno.execPath(),
                  "run",
                  "--cached-only",
                  ...permissions,
                  `${REPO_DIR}/main.ts`,
                  "--config",
                  config,
                ],
                log: topo.file(`${node.name}-agent.log`),
                cwd: REPO_DIR,
                env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
              }),
            );
          }
          const flood = (node: LabNode, want: string[]) =>
            waitFor(
              async () => {
                await alive([...daemons, ...agents]);
                assert.deepEqual(await topo.floodList(node, "vxlan10010"), want);
              },
              20_000,
              `${node.name} vxlan10010 flood list [${want.join(", ")}]`,
            );
          await flood(s1, [s2.address]);
          await flood(s2, [s1.address]);
          const rib = await topo.rib(hub);
          assert.deepEqual(rib[`${s1.address}/32`], ["65000:10010"]);
          assert.deepEqual(rib[`${s2.address}/32`], ["65000:10010"]);
          if (LOADER_KNOWS_HTTP) {
            for (const path of ["/healthz", "/readyz"]) {
              await waitFor(
                async () => {
                  await alive(agents);
                  const r = await run(s1.ns, [
                    "busybox",
                    "wget",
                    "-q",
                    "-O",
                    "-",
                    `http://${s1.address}:9469${path}`,
                  ]);
                  assert.ok(r.success, `GET ${path}: ${r.stderr}`);
                },
                10_000,
                `spoke1's agent answering ${path} on its pod IP`,
              );
            }
          }
        },
      );

      await t.step(
        "the agent's /metrics has every series the alerts and the dashboard query",
        async () => {
          assert.ok(LOADER_KNOWS_HTTP, "the agent's config loader does not know http");
          await alive([...daemons, ...agents]);
          const r = await run(s1.ns, [
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            `http://${s1.address}:9469/metrics`,
          ]);
          assert.ok(r.success, `GET /metrics: ${r.stderr}`);
          const families = parseExposition(r.stdout);
          const scraped = new Set<string>();
          for (const family of families.values()) {
            if (family.samples.length > 0) scraped.add(family.name);
            for (const sample of family.samples) scraped.add(sample.name);
          }
          const queried = await monitoredMetrics();
          const missing = [...queried]
            .filter(([name]) =>
              !scraped.has(name) && !PROMETHEUS_SERIES.has(name) &&
              !EMPTY_UNDER_BUILD_PERMISSIONS.has(name)
            )
            .map(([name, where]) => `${name} (${[...new Set(where)].join(", ")})`);
          assert.deepEqual(missing, [], "queried but not in the scrape (or without samples)");
          // The known gap: declared (so the names are right) but without samples.
          for (const name of EMPTY_UNDER_BUILD_PERMISSIONS) {
            assert.ok(queried.has(name), `${name} is no longer queried: drop it from the gap`);
            assert.ok(families.has(name), `${name} is not even declared in /metrics`);
            assert.ok(
              !scraped.has(name),
              `${name} now has samples: remove it from EMPTY_UNDER_BUILD_PERMISSIONS`,
            );
          }
          assert.equal(sampleValue(families, "evpn_agent_ready"), 1);
          assert.ok(sampleValue(families, "process_cpu_seconds_total")! > 0, "CPU time");
          assert.equal(
            sampleValue(families, "evpn_agent_flood_entries", { state: "programmed" }),
            1,
          );
        },
      );

      await t.step("the chart's memory requests cover the RSS measured here", async () => {
        await alive([...daemons, ...agents]);
        const budget = [
          ["gobgpd", daemons, values.gobgp.resources.requests.memory],
          ["evpn-agent", agents, values.resources.requests.memory],
        ] as const;
        for (const [what, handles, request] of budget) {
          for (const h of handles) {
            const rss = rssBytes(h.pid);
            assert.ok(rss !== undefined, `${h.name}: no RSS`);
            console.log(`${h.name}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB (request ${request})`);
            assert.ok(rss <= memoryBytes(request), `${what} RSS ${rss} > request ${request}`);
          }
        }
      });
    } finally {
      // Only what this test started, by PID: agents first (they withdraw), then gobgpd.
      for (const group of [agents, daemons]) {
        await Promise.allSettled(group.map((h) => h.stop("SIGTERM", 5000)));
      }
      await topo.destroy();
    }
  },
});
