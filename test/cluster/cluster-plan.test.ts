/**
 * The head's plan of a cluster: which hosts get a node, how many nodes, the
 * address it listens on; and how each runtime picks its own address. Hosts
 * here are IP addresses of this machine (loopback: "the head's host") and of
 * a documentation network (TEST-NET-3), so no name is looked up anywhere but
 * /etc/hosts, and with a chosen address no route is even looked up.
 */
import { describe, expect, test } from "bun:test";
import { planCluster } from "../../src/cluster/cluster-plan.ts";
import { type InitOptions, resolveOptions } from "../../src/cluster/options.ts";
import { AllocationError, InvalidArgumentError } from "../../src/errors.ts";
import { chooseAddress } from "../../src/launch/addresses.ts";

/** With a chosen address: the plan then looks up no route toward the (unreachable) hosts. */
function plan(given: InitOptions, env: Record<string, string> = {}) {
  const withAddress = { address: "127.0.0.1", ...given };
  return planCluster(withAddress, resolveOptions(withAddress, env), env);
}

async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a refusal");
}

describe("the cluster plan", () => {
  test("local mode passes through: loopback, one node, no hosts", async () => {
    const { options, nodeHosts, advertise } = await planCluster({}, resolveOptions({}, {}), {});
    expect({ launcher: options.launcher, address: options.address, numNodes: options.numNodes, nodeHosts, advertise }).toEqual({
      launcher: "local",
      address: "127.0.0.1",
      numNodes: 1,
      nodeHosts: [],
      advertise: "127.0.0.1",
    });
  });

  test("hosts choose ssh; the head's own host gets no node, unless reuseHead (then it starts locally)", async () => {
    const hosts = ["127.0.0.1", "203.0.113.1", "203.0.113.2", "203.0.113.1"];
    const plain = await plan({ hosts });
    expect({ launcher: plain.options.launcher, numNodes: plain.options.numNodes, nodeHosts: plain.nodeHosts }).toEqual({
      launcher: "ssh",
      numNodes: 2,
      nodeHosts: ["203.0.113.1", "203.0.113.2"],
    });
    const reused = await plan({ hosts, reuseHead: true });
    expect({ numNodes: reused.options.numNodes, nodeHosts: reused.nodeHosts }).toEqual({ numNodes: 3, nodeHosts: ["", "203.0.113.1", "203.0.113.2"] });
  });

  test("inside a SLURM job the allocation's hosts get nodes through srun, the head's host included only with reuseHead", async () => {
    const env = { SLURM_JOB_ID: "7", SLURM_JOB_NODELIST: "localhost" };
    expect((await refusal(plan({}, env))).message).toContain("no host gets a node: localhost is this machine");
    const reused = await plan({ reuseHead: true }, env);
    expect({ launcher: reused.options.launcher, nodeHosts: reused.nodeHosts }).toEqual({ launcher: "slurm", nodeHosts: ["localhost"] });
  });

  test("a chosen numNodes takes the first hosts; more nodes than hosts is refused naming them", async () => {
    const hosts = ["203.0.113.1", "203.0.113.2"];
    expect((await plan({ hosts, numNodes: 1 })).nodeHosts).toEqual(["203.0.113.1"]);
    expect((await plan({ hosts }, { MOSAIC_NUM_NODES: "1" })).nodeHosts).toEqual(["203.0.113.1"]);
    const error = await refusal(plan({ hosts, numNodes: 3 }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe("numNodes is 3 but only 2 host(s) get a node (203.0.113.1, 203.0.113.2): one node runs per host");
  });

  test("a host file: one host per line, duplicate lines (one per slot) one host", async () => {
    const path = `${process.env.TMPDIR ?? "/tmp"}/mosaic-hostfile-${process.pid}`;
    await Bun.write(path, "203.0.113.1\n203.0.113.1\n# comment\n203.0.113.2\n");
    try {
      expect((await plan({ hostfile: path })).nodeHosts).toEqual(["203.0.113.1", "203.0.113.2"]);
    } finally {
      await Bun.file(path).delete();
    }
  });

  test("refusals name the problem: hosts with the local launcher, ssh without hosts, slurm outside a job, a bad host file", async () => {
    const cases: [InitOptions, Record<string, string>, new (...args: any[]) => Error, string][] = [
      [{ hosts: ["a"], launcher: "local" }, {}, InvalidArgumentError, 'hosts were given but the launcher is "local"'],
      [{ launcher: "ssh" }, {}, AllocationError, "the ssh launcher has no hosts to start nodes on: give hosts"],
      [{ launcher: "slurm" }, {}, AllocationError, "the slurm launcher has no hosts to start nodes on: run inside a SLURM job"],
      [{ launcher: "pbs" }, { SLURM_JOB_ID: "1", SLURM_JOB_NODELIST: "n1" }, AllocationError, 'the launcher is "pbs" but this runs in a SLURM job (1)'],
      [{ hostfile: "/nonexistent/hosts" }, {}, InvalidArgumentError, "hostfile /nonexistent/hosts cannot be read"],
    ];
    for (const [given, env, type, message] of cases) {
      const error = await refusal(plan(given, env));
      expect(error).toBeInstanceOf(type);
      expect(error.message).toContain(message);
    }
  });
});

describe("address selection", () => {
  test("loopback stays loopback (local mode), a wildcard listens everywhere but advertises a real address", async () => {
    expect(await chooseAddress("127.0.0.1", "127.0.0.1")).toEqual({ listen: "127.0.0.1", advertise: "127.0.0.1" });
    expect(await chooseAddress("0.0.0.0", "127.0.0.1")).toEqual({ listen: "0.0.0.0", advertise: "127.0.0.1" });
  });

  test("the address of another host (the head's, carried down) becomes this host's own toward the parent", async () => {
    // 127.0.0.2 is no interface's address here; the route to a loopback parent starts at 127.0.0.1.
    expect(await chooseAddress("203.0.113.50", "127.0.0.1")).toEqual({ listen: "127.0.0.1", advertise: "127.0.0.1" });
  });
});
