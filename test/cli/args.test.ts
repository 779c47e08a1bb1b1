import { describe, expect, it } from "vitest";
import { CliError, HelpRequested, parseFlags, requireFlag } from "../../src/cli/args.js";

const USAGE = "  consort thing --out FILE [--count 3] [--dry-run]";
const OPTIONS = {
  out: { type: "string" },
  count: { type: "string", default: "3" },
  "dry-run": { type: "boolean", default: false },
} as const;

describe("parseFlags: the one flag parser of every command", () => {
  it("reads --key value, --key=value, booleans, defaults and positionals", () => {
    const { values, positionals } = parseFlags(
      ["issue", "--out", "a.key", "--count=7", "--dry-run"],
      OPTIONS,
      USAGE,
    );
    expect(values).toEqual({ out: "a.key", count: "7", "dry-run": true });
    expect(positionals).toEqual(["issue"]);
    expect(parseFlags([], OPTIONS, USAGE).values).toEqual({ count: "3", "dry-run": false });
  });

  it("refuses an unknown flag or a missing value with a usage error that shows the usage", () => {
    for (const argv of [["--ot", "a.key"], ["--out"], ["--dry-run=yes"]]) {
      let caught: unknown;
      try {
        parseFlags(argv, OPTIONS, USAGE);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CliError);
      expect((caught as CliError).code).toBe("CLI_USAGE");
      expect((caught as CliError).message).toContain(`usage:\n${USAGE}`);
    }
  });

  it("--help or -h, anywhere before a --, asks for the usage instead of running the command", () => {
    for (const argv of [["--help"], ["issue", "-h"], ["--out", "a.key", "--help", "--bogus"]]) {
      let caught: unknown;
      try {
        parseFlags(argv, OPTIONS, USAGE);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(HelpRequested);
      expect((caught as HelpRequested).usage).toBe(`usage:\n${USAGE}`);
    }
    expect(parseFlags(["--", "--help"], OPTIONS, USAGE).positionals).toEqual(["--help"]);
  });

  it("requireFlag names the missing flag", () => {
    expect(requireFlag("x", "out")).toBe("x");
    expect(() => requireFlag(undefined, "out")).toThrow("missing --out");
    expect(() => requireFlag("", "out")).toThrow("missing --out");
  });
});
