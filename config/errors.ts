/** Stable codes: the entry point maps them to an exit status and a message, nothing else. */
export type ConfigErrorCode =
  /** A setting has a bad value, is missing, or is unknown. */
  | "config_invalid"
  /** The config file or the secret file cannot be read or parsed. */
  | "config_file"
  /** Bad command line: unknown flag, missing flag value, stray argument. */
  | "cli_usage";

export interface ConfigProblem {
  /** Dotted setting path ("component.server"), or "" for problems not about one setting. */
  path: string;
  /** One line naming the field, the bad value and where it came from. */
  message: string;
  /** "--server", "env XMB_SERVER", "config file /etc/x.json", "default". */
  source?: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";

  constructor(
    readonly code: ConfigErrorCode,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(problems.map((p) => p.message).join("\n"));
  }
}
