export { ConfigError, type ConfigErrorCode, type ConfigProblem } from "./errors.js";
export { formatConfig, helpText, loadConfig, parseCli, redactConfig, REDACTED, type CliResult, type Env, type LoadOptions } from "./load.js";
export { childLogger, createLogger, scrubSecrets, type CreateLoggerOptions, type Logger } from "./logger.js";
export { CONFIG_FILE_ENV, OPTIONS, SECRET_FILE_ENV, type OptionSpec } from "./options.js";
export {
  ConfigSchema,
  DEFAULTS,
  LOG_FORMATS,
  LOG_LEVELS,
  parseHostPort,
  ROOM_KINDS,
  tryParseHostPort,
  type Config,
  type ConfigInput,
  type HostPort,
  type LogFormat,
  type LogLevel,
  type RoomKind,
} from "./schema.js";
