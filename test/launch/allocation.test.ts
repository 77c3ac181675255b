import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AllocationError } from "../../src/errors.ts";
import { detectAllocation, parsePbsNodeFile, parseSgeHostFile } from "../../src/launch/allocation.ts";
import { expandHostlist } from "../../src/launch/hostlist.ts";

describe("SLURM hostlist expansion", () => {
  test.each([
    ["gpu3", ["gpu3"]],
    ["node[01-04,07],gpu3", ["node01", "node02", "node03", "node04", "node07", "gpu3"]],
    ["h[0-2]", ["h0", "h1", "h2"]],
    ["n[8-11]", ["n8", "n9", "n10", "n11"]],
    ["n[098-101]", ["n098", "n099", "n100", "n101"]],
    ["a[1-2],b,c[5]", ["a1", "a2", "b", "c5"]],
    ["rack[1-2]-n[01-02]", ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"]],
    ["[1-2]x", ["1x", "2x"]],
    ["node1.cluster.org,node[2-3].cluster.org", ["node1.cluster.org", "node2.cluster.org", "node3.cluster.org"]],
    [" a , b ", ["a", "b"]],
    ["a,a[1],a", ["a", "a1", "a"]],
  ])("%p expands to %p", (hostlist, hosts) => {
    expect(expandHostlist(hostlist)).toEqual(hosts);
  });

  test.each([
    ["", "it is empty"],
    ["a,,b", "an empty item"],
    ["node[1-3", `"[" is never closed`],
    ["node1-3]", `"]" without "["`],
    ["node[1-[2]]", "nested"],
    ["node[3-1]", `"3-1" runs backwards`],
    ["node[a-c]", `holds "a-c", not a number`],
    ["node[]", `holds "", not a number`],
    ["node[1-]", `holds "1-"`],
    ["node 1", "white space"],
    ["n[1-99999999]", "more than 100000 hosts"],
    ["n[1-1000]m[1-1000]", "more than 100000 hosts"],
  ])("%p fails with AllocationError naming it (%s)", (hostlist, why) => {
    const expand = () => expandHostlist(hostlist);
    expect(expand).toThrow(AllocationError);
    expect(expand).toThrow(`hostlist "${hostlist}" cannot be expanded: `);
    expect(expand).toThrow(why);
  });
});

describe("node files", () => {
  test("a PBS node file lists a host once per slot: each host once, in first-seen order", () => {
    expect(parsePbsNodeFile("n2\nn2\nn1\n\nn2\nn3\n# comment\nn1\n")).toEqual(["n2", "n1", "n3"]);
  });

  test("an SGE PE_HOSTFILE gives the first column of each line, each host once", () => {
    const text = "h1 2 all.q@h1 UNDEFINED\nh0 1 all.q@h0 UNDEFINED\nh1 1 gpu.q@h1 <NULL>\nh2 1 all.q@h2 UNDEFINED\n";
    expect(parseSgeHostFile(text)).toEqual(["h1", "h0", "h2"]);
  });

  test.each([
    ["PBS", () => parsePbsNodeFile("\n\n"), "PBS node file names no host"],
    ["PBS", () => parsePbsNodeFile("a b\n"), `the line "a b" is not a single host name`],
    ["SGE", () => parseSgeHostFile(""), "SGE PE_HOSTFILE names no host"],
    ["SGE", () => parseSgeHostFile("h1 two all.q UNDEFINED\n"), `the line "h1 two all.q UNDEFINED" is not "host slots queue processors"`],
  ])("a bad %s node file fails with AllocationError saying why", (_, read, message) => {
    expect(read).toThrow(AllocationError);
    expect(read).toThrow(message);
  });
});

describe("detectAllocation", () => {
  const dir = mkdtempSync(join(tmpdir(), "mosaic-allocation-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test("outside any job there is no allocation", () => {
    expect(detectAllocation({ HOME: "/root", SLURM_JOB_ID: "3" })).toBeUndefined();
  });

  test("SLURM: the job id and the unique hosts of SLURM_JOB_NODELIST", () => {
    expect(detectAllocation({ SLURM_JOB_ID: "42", SLURM_JOB_NODELIST: "node[01-02],gpu3" })).toEqual({
      scheduler: "slurm",
      jobId: "42",
      hosts: ["node01", "node02", "gpu3"],
    });
  });

  test("PBS: the unique hosts of PBS_NODEFILE", () => {
    const nodes = file("pbs-nodes", "a\na\nb\nc\nc\n");
    expect(detectAllocation({ PBS_JOBID: "7.server", PBS_NODEFILE: nodes })).toEqual({ scheduler: "pbs", jobId: "7.server", hosts: ["a", "b", "c"] });
  });

  test("SGE: the unique hosts of PE_HOSTFILE", () => {
    const hosts = file("pe-hosts", "h0 2 all.q@h0 UNDEFINED\nh1 2 all.q@h1 UNDEFINED\n");
    expect(detectAllocation({ JOB_ID: "9", PE_HOSTFILE: hosts })).toEqual({ scheduler: "sge", jobId: "9", hosts: ["h0", "h1"] });
  });

  test("a node file that cannot be read fails naming the variable and the path", () => {
    const missing = join(dir, "missing");
    const detect = () => detectAllocation({ PBS_JOBID: "7", PBS_NODEFILE: missing });
    expect(detect).toThrow(AllocationError);
    expect(detect).toThrow(`PBS_NODEFILE=${missing} cannot be read`);
  });

  test("a bad SLURM_JOB_NODELIST fails rather than running elsewhere", () => {
    expect(() => detectAllocation({ SLURM_JOB_ID: "1", SLURM_JOB_NODELIST: "n[1-" })).toThrow(AllocationError);
  });
});
