import { describe, expect, test } from "bun:test";
import { InvalidArgumentError } from "../../src/errors.ts";
import { SshLauncher, splitCommand } from "../../src/launch/ssh.ts";
import { CLUSTER_HOSTS_AVAILABLE } from "../_helpers/cluster-hosts/index.ts";
import { testHostsForLaunchers } from "./_remote.ts";
import { describeLauncherContract } from "./launcher-contract.ts";

testHostsForLaunchers();
describeLauncherContract("ssh", { skip: !CLUSTER_HOSTS_AVAILABLE });

describe("ssh launcher", () => {
  test("an ssh command string splits into words as a shell would", () => {
    expect(splitCommand(`ssh -F "/my dir/cfg" -o 'ProxyJump=a b'  -p\\ 2`)).toEqual(["ssh", "-F", "/my dir/cfg", "-o", "ProxyJump=a b", "-p 2"]);
    expect(() => splitCommand(`ssh -F "x`)).toThrow(InvalidArgumentError);
  });

  test.each([[undefined, "the spec names none"], ["-oProxyCommand=x", "is not a host name"], ["a b", "is not a host name"]])(
    "a spec with host %p is refused with InvalidArgumentError, and nothing starts",
    (host, message) => {
      const launch = () => new SshLauncher({ sshCommand: ["false"], entryCommand: ["false"], command: ["false"] }).launch({ uid: "node:0", args: [], env: {}, secret: "s", host, output: () => {} });
      expect(launch).toThrow(InvalidArgumentError);
      expect(launch).toThrow(message);
    },
  );
});
