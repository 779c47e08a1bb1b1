import { ConsortError } from "../util/errors.js";

export type ConfigErrorCode = "CONFIG_FILE_MISSING" | "CONFIG_FILE_UNREADABLE" | "CONFIG_INVALID";

/** A config problem an operator can fix: the message names the file and the field. */
export class ConfigError extends ConsortError<ConfigErrorCode> {}
