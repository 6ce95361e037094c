/**
 * evpn-agent: keeps kernel VXLAN flood FDB entries equal to the remote VTEPs
 * that BGP (gobgpd) says share each VNI, and advertises this node's own VNIs.
 *
 *     deno run -A main.ts --config /etc/evpn-agent/config.yaml
 *
 * @module
 */
import { parseArgs } from "node:util";
import { VERSION } from "./src/version.ts";
import {
  type CheckedConfig,
  LOG_LEVEL_CHOICES,
  parseLogLevel,
  type ResolvedConfig,
} from "./src/config/types.ts";

const DEFAULT_CONFIG = "/etc/evpn-agent/config.yaml";

/** The agent's default `http.listen` (`DEFAULT_HTTP_LISTEN`), for help texts and examples. */
const DEFAULT_STATUS_ADDR = "127.0.0.1:9469";

const HELP = `evpn-agent ${VERSION}: EVPN/VXLAN flood-list agent for GoBGP and Linux

Usage:
  evpn-agent [--config FILE] [--log-level LEVEL] [--dry-run]
  evpn-agent status [--addr HOST:PORT | --config FILE] [--json]
  evpn-agent check-config [--offline] [FILE]
  evpn-agent --help | --version

Options:
  -c, --config FILE      configuration file (default ${DEFAULT_CONFIG})
  -l, --log-level LEVEL  debug, info, warning (or warn) or error; overrides logLevel
      --dry-run          connect and watch, but change neither the kernel nor the RIB;
                         log each change that would be made
  -h, --help             show this help
  -V, --version          print the version

Commands:
  status        print a running agent's state from its /status endpoint
                (--addr, else http.listen from --config FILE, else
                ${DEFAULT_STATUS_ADDR}; --json for the raw document)
  check-config  validate FILE (default ${DEFAULT_CONFIG}) and print the resolved
                configuration with every default filled in (--offline: for
                another host, without reading this host's interfaces)

Signals: SIGTERM/SIGINT stop the agent; SIGHUP reloads the configuration file
(live keys only; see README, "Reload").

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime failure,
2 when the command line or the configuration is refused; status: 0 ready,
3 not ready, 1 agent unreachable. "evpn-agent COMMAND --help" shows a command's
options.
`;

const STATUS_HELP = `Usage: evpn-agent status [--addr HOST:PORT | --config FILE] [--json]

Print a running agent's state from its /status endpoint.

Where it asks: --addr; else http.listen in the configuration file (--config,
default ${DEFAULT_CONFIG}; 0.0.0.0 and [::] are asked on loopback);
else, when the default file does not exist, ${DEFAULT_STATUS_ADDR}.

Options:
  -a, --addr HOST:PORT  the agent's endpoint
  -c, --config FILE     the configuration file to read http.listen from
      --json            print the raw /status document
  -h, --help            show this help

Exit codes: 0 ready, 3 not ready, 1 agent unreachable, 2 command line or
configuration refused.
`;

const CHECK_CONFIG_HELP = `Usage: evpn-agent check-config [--offline] [FILE]

Validate FILE (default ${DEFAULT_CONFIG}) and print the resolved
configuration with every default filled in, or every problem found.

Options:
      --offline  the file is meant for another host: skip the checks that read
                 this host's interfaces (node.localInterface); an empty
                 node.localAddress stays empty
  -h, --help     show this help

Exit codes: 0 valid, 2 refused.
`;

const COMMANDS = ["status", "check-config"] as const;

function fail(message: string, code: number): never {
  console.error(`evpn-agent: ${message}`);
  Deno.exit(code);
}

/**
 * The configuration at `path`, or exit 2 with every issue. `hint` says how
 * to name another file, for a file that does not exist.
 */
async function loadOrExit(path: string, hint: string): Promise<ResolvedConfig>;
/** With `offline`, checked for another host (see `loadConfigOffline`). */
async function loadOrExit(
  path: string,
  hint: string,
  options: { offline: boolean },
): Promise<CheckedConfig>;
async function loadOrExit(path: string, hint: string, options = { offline: false }) {
  const { loadConfig, loadConfigOffline } = await import("./src/config/mod.ts");
  try {
    return options.offline ? await loadConfigOffline(path) : await loadConfig(path);
  } catch (error) {
    return await refuseConfig(path, hint, error);
  }
}

/** Exits 2 for a refused configuration (see {@linkcode loadOrExit}); rethrows anything else. */
async function refuseConfig(path: string, hint: string, error: unknown): Promise<never> {
  const { ConfigError } = await import("./src/config/mod.ts");
  if (!(error instanceof ConfigError)) throw error;
  const missing = error.cause instanceof Deno.errors.NotFound
    ? `\nGive its path ${hint} (default ${DEFAULT_CONFIG}).`
    : "";
  fail(`refusing configuration ${path}:\n${error.message}${missing}`, 2);
}

/**
 * Where `status` asks: `--addr`, else the configuration file's
 * `http.listen` (read offline: only that key matters here), else
 * {@linkcode DEFAULT_STATUS_ADDR} when the default file does not exist.
 */
async function statusAddr(flag: string | undefined, configFlag: string | undefined) {
  const { parseHostPort } = await import("./src/net/host_port.ts");
  if (flag !== undefined) {
    const parsed = parseHostPort(flag, DEFAULT_STATUS_ADDR);
    if ("problem" in parsed) fail(`status --addr: ${parsed.problem}\nTry status --help.`, 2);
    return parsed.value;
  }
  const { loadConfigOffline, DEFAULT_HTTP_LISTEN } = await import("./src/config/mod.ts");
  const { listenToStatusAddr } = await import("./src/cli/status.ts");
  const path = configFlag ?? DEFAULT_CONFIG;
  let listen;
  try {
    ({ listen } = (await loadConfigOffline(path)).http);
  } catch (error) {
    const noDefaultFile = configFlag === undefined &&
      (error as { cause?: unknown }).cause instanceof Deno.errors.NotFound;
    if (!noDefaultFile) return await refuseConfig(path, "with status --config FILE", error);
    return DEFAULT_HTTP_LISTEN; // what an agent without a configured http.listen serves on
  }
  if (listen === "") {
    fail(
      `status: http.listen is "" in ${path}: the agent serves no /status; give --addr HOST:PORT`,
      1,
    );
  }
  return listenToStatusAddr(listen);
}

async function statusCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        addr: { type: "string", short: "a" },
        config: { type: "string", short: "c" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    fail(`status: ${error instanceof Error ? error.message : error}\nTry status --help.`, 2);
  }
  if (values.help) {
    console.log(STATUS_HELP.trimEnd());
    return 0;
  }
  const { fetchStatus, renderStatus } = await import("./src/cli/status.ts");
  const addr = await statusAddr(values.addr, values.config);
  let status;
  try {
    status = await fetchStatus(addr);
  } catch (error) {
    fail(
      `status: cannot reach the agent: ${error instanceof Error ? error.message : error}` +
        "\nIs it running, and is http.listen set to that address?",
      1,
    );
  }
  console.log(values.json ? JSON.stringify(status, null, 2) : renderStatus(status).trimEnd());
  return status.ready ? 0 : 3;
}

async function checkConfigCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { offline: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    fail(
      `check-config: ${error instanceof Error ? error.message : error}\nTry check-config --help.`,
      2,
    );
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(CHECK_CONFIG_HELP.trimEnd());
    return 0;
  }
  if (positionals.length > 1) {
    fail("check-config: expected at most one FILE argument\nTry check-config --help.", 2);
  }
  const path = positionals[0] ?? DEFAULT_CONFIG;
  const offline = values.offline ?? false;
  const config = await loadOrExit(path, "as check-config FILE", { offline });
  const YAML = (await import("yaml")).default;
  const { toUserConfig } = await import("./src/config/render.ts");
  console.log(
    offline
      ? `# ${path}: valid (--offline: this host's interfaces not read). ` +
        "The resolved configuration, defaults filled in:"
      : `# ${path}: valid. The resolved configuration, defaults filled in:`,
  );
  console.log(YAML.stringify(toUserConfig(config)).trimEnd());
  for (const warning of config.warnings) {
    console.error(`warning: ${warning.path}: ${warning.message}`);
  }
  return 0;
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "status") return await statusCommand(args.slice(1));
  if (args[0] === "check-config") return await checkConfigCommand(args.slice(1));
  const first = args[0];
  if (first !== undefined && !first.startsWith("-")) {
    const { closest } = await import("./src/config/suggest.ts");
    const near = closest(first, COMMANDS);
    fail(
      `unknown command ${JSON.stringify(first)}; ` +
        (near === undefined
          ? `the commands are ${COMMANDS.join(", ")}`
          : `did you mean ${JSON.stringify(near)}?`) +
        "\nTry --help.",
      2,
    );
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: "string", short: "c" },
        "log-level": { type: "string", short: "l" },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    fail(`${error instanceof Error ? error.message : error}\nTry --help.`, 2);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.version) {
    console.log(`evpn-agent ${VERSION}`);
    return 0;
  }
  const levelText = values["log-level"];
  const level = levelText === undefined ? undefined : parseLogLevel(levelText);
  if (levelText !== undefined && level === undefined) {
    fail(`--log-level: ${JSON.stringify(levelText)} is not one of ${LOG_LEVEL_CHOICES}`, 2);
  }

  // Heavy modules (gRPC, FFI) load only after the command line is accepted.
  const path = values.config ?? DEFAULT_CONFIG;
  const config = await loadOrExit(path, "with --config FILE");
  if (level) config.logLevel = level;
  // SIGHUP: the same file again; --log-level keeps winning over the file.
  const reload = async () => {
    const { loadConfig } = await import("./src/config/mod.ts");
    const next = await loadConfig(path);
    if (level) next.logLevel = level;
    return next;
  };

  const { setupLogging, shutdownLogging, logger } = await import("./src/log.ts");
  setupLogging(config.logLevel, config.logFormat);
  const log = logger("agent");
  const { run } = await import("./src/app/run.ts");
  try {
    return await run(config, { dryRun: values["dry-run"] ?? false, reload });
  } catch (error) {
    log.fatal("{error}", { error: error instanceof Error ? error.message : String(error) });
    return 1;
  } finally {
    shutdownLogging();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
