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

const HELP = `evpn-agent ${VERSION}: EVPN/VXLAN flood-list agent for GoBGP and Linux

Usage:
  evpn-agent [--config FILE] [--log-level LEVEL]
  evpn-agent --help | --version

Options:
  -c, --config FILE      configuration file (default ${DEFAULT_CONFIG})
  -l, --log-level LEVEL  debug, info, warning or error; overrides logLevel in the file
  -h, --help             show this help
  -V, --version          print the version

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime failure,
2 when the command line or the configuration is refused.
`;

function fail(message: string, code: number): never {
  console.error(`evpn-agent: ${message}`);
  Deno.exit(code);
}

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: "string", short: "c" },
        "log-level": { type: "string", short: "l" },
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
  const { loadConfig, ConfigError } = await import("./src/config/mod.ts");
  const path = values.config ?? DEFAULT_CONFIG;
  let config;
  try {
    config = await loadConfig(path);
  } catch (error) {
    if (error instanceof ConfigError) fail(`refusing configuration ${path}:\n${error.message}`, 2);
    throw error;
  }
  if (level) config.logLevel = level as LogLevel;

  const { setupLogging, shutdownLogging, logger } = await import("./src/log.ts");
  setupLogging(config.logLevel);
  const log = logger("agent");
  const { run } = await import("./src/run.ts");
  try {
    return await run(config);
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
