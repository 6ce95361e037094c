/**
 * The agent's configuration: what users write, how it is checked, and the
 * resolved form the rest of the agent reads.
 *
 * @module
 */

export { LOG_LEVELS } from "./types.ts";
export type { CheckedConfig, LogLevel, ResolvedConfig, VniConfig } from "./types.ts";
export {
  ConfigError,
  FILE_ISSUE_PATH,
  formatIssue,
  formatIssues,
  SHOWN_PER_KIND,
} from "./errors.ts";
export type { ConfigErrorOptions, ConfigIssue } from "./errors.ts";
export {
  DEFAULT_GOBGP_ADDRESS,
  DEFAULT_GOBGP_TIMEOUT_MS,
  DEFAULT_HTTP_LISTEN,
  DEFAULT_LOCAL_INTERFACE,
  DEFAULT_VXLAN_PORT,
  formatPath,
  ifNameProblem,
  MAX_VNI,
  OFFLINE_ENV,
  parseDuration,
  resolveConfig,
  resolveConfigOffline,
  UserConfigSchema,
} from "./schema.ts";
export type {
  ConfigEnv,
  UserConfig,
  UserGobgpConfig,
  UserNodeConfig,
  UserVniConfig,
} from "./schema.ts";
export { defaultEnv, loadConfig, loadConfigOffline, parseConfigText } from "./load.ts";
export { formatDuration, toUserConfig } from "./render.ts";
export { planReload, RELOAD_KEYS } from "./reload.ts";
export type { KeyChange, ReloadMode, ReloadPlan } from "./reload.ts";
