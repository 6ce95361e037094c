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
import { LOG_LEVELS, type LogLevel } from "./src/config/types.ts";

const DEFAULT_CONFIG = "/etc/evpn-agent/config.yaml";

const DEFAULT_STATUS_ADDR = "127.0.0.1:9469";

const HELP = `evpn-agent ${VERSION}: EVPN/VXLAN flood-list agent for GoBGP and Linux

Usage:
  evpn-agent [--config FILE] [--log-level LEVEL] [--dry-run]
  evpn-agent status [--addr HOST:PORT] [--json]
  evpn-agent check-config [FILE]
  evpn-agent --help | --version

Options:
  -c, --config FILE      configuration file (default ${DEFAULT_CONFIG})
  -l, --log-level LEVEL  debug, info, warning or error; overrides logLevel in the file
      --dry-run          connect and watch, but change neither the kernel nor the RIB;
                         log each change that would be made
  -h, --help             show this help
  -V, --version          print the version

Commands:
  status        print a running agent's state from its /status endpoint
                (--addr, default ${DEFAULT_STATUS_ADDR}; --json for the raw document)
  check-config  validate FILE (default ${DEFAULT_CONFIG}) and print the resolved
                configuration with every default filled in

Signals: SIGTERM/SIGINT stop the agent; SIGHUP reloads the configuration file
(live keys only; see README, "Reload").

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime failure,
2 when the command line or the configuration is refused; status: 0 ready,
3 not ready, 1 agent unreachable.
`;

function fail(message: string, code: number): never {
  console.error(`evpn-agent: ${message}`);
  Deno.exit(code);
}

async function loadOrExit(path: string) {
  const { loadConfig, ConfigError } = await import("./src/config/mod.ts");
  try {
    return await loadConfig(path);
  } catch (error) {
    if (error instanceof ConfigError) fail(`refusing configuration ${path}:\n${error.message}`, 2);
    throw error;
  }
}

async function statusCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { addr: { type: "string", short: "a" }, json: { type: "boolean" } },
      strict: true,
    }));
  } catch (error) {
    fail(`status: ${error instanceof Error ? error.message : error}\nTry --help.`, 2);
  }
  const { fetchStatus, renderStatus } = await import("./src/cli/status.ts");
  const addr = values.addr ?? DEFAULT_STATUS_ADDR;
  let status;
  try {
    status = await fetchStatus(addr);
  } catch (error) {
    fail(
      `status: cannot reach the agent at http://${addr}/status: ${
        error instanceof Error ? error.message : error
      }\nIs it running, and is http.listen set to that address?`,
      1,
    );
  }
  console.log(values.json ? JSON.stringify(status, null, 2) : renderStatus(status).trimEnd());
  return status.ready ? 0 : 3;
}

async function checkConfigCommand(args: string[]): Promise<number> {
  if (args.length > 1 || args[0]?.startsWith("-")) {
    fail("check-config: expected at most one FILE argument\nTry --help.", 2);
  }
  const path = args[0] ?? DEFAULT_CONFIG;
  const config = await loadOrExit(path);
  const YAML = (await import("yaml")).default;
  const { toUserConfig } = await import("./src/config/render.ts");
  console.log(`# ${path}: valid. The resolved configuration, defaults filled in:`);
  console.log(YAML.stringify(toUserConfig(config)).trimEnd());
  return 0;
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "status") return await statusCommand(args.slice(1));
  if (args[0] === "check-config") return await checkConfigCommand(args.slice(1));
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
  const level = values["log-level"];
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    fail(`--log-level: "${level}" is not one of ${LOG_LEVELS.join(", ")}`, 2);
  }

  // Heavy modules (gRPC, FFI) load only after the command line is accepted.
  const path = values.config ?? DEFAULT_CONFIG;
  const config = await loadOrExit(path);
  if (level) config.logLevel = level as LogLevel;
  // SIGHUP: the same file again; --log-level keeps winning over the file.
  const reload = async () => {
    const { loadConfig } = await import("./src/config/mod.ts");
    const next = await loadConfig(path);
    if (level) next.logLevel = level as LogLevel;
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
