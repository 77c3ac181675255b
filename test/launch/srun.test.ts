import { CLUSTER_HOSTS_AVAILABLE } from "../_helpers/cluster-hosts/index.ts";
import { testHostsForLaunchers } from "./_remote.ts";
import { describeLauncherContract } from "./launcher-contract.ts";

testHostsForLaunchers({ slurm: true });
describeLauncherContract("srun", { skip: !CLUSTER_HOSTS_AVAILABLE });
