import { describe, expect, test } from "bun:test";
import { InvalidArgumentError } from "../../src/errors.ts";
import { LocalLauncher } from "../../src/launch/local.ts";
import { describeLauncherContract } from "./launcher-contract.ts";

describeLauncherContract("local");

describe("local launcher", () => {
  test("a spec naming another host is refused with InvalidArgumentError, and nothing starts", () => {
    const launch = () => new LocalLauncher({ command: ["false"] }).launch({ uid: "node:0", args: [], env: {}, secret: "s", host: "elsewhere", output: () => {} });
    expect(launch).toThrow(InvalidArgumentError);
    expect(launch).toThrow(/not on "elsewhere"/);
  });
});
