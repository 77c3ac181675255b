/**
 * Type-level tests, checked by `bunx tsc --noEmit` and never run: each
 * `@ts-expect-error` line must be an error, and every other line must not be.
 * Proxies of both forms of declaration are typed from the class: method names,
 * parameter types (a task producing the right type is accepted), results.
 */
import { remote } from "../../../src/index.ts";
import { type ArrayTask, each, type TaskProxy, Tessera, tessera, type TesseraArray, type TesseraProxy, wait } from "../../../src/index.ts";

const Counter = tessera(
  class Counter {
    n = 0;
    constructor(readonly start: number) {}
    add(k: number): number {
      return (this.n += k);
    }
    async label(prefix: string, width: number): Promise<string> {
      return `${prefix}${this.n}`.padStart(width);
    }
    pair(): [number, string] {
      return [this.n, "n"];
    }
    reset(): void {
      this.n = 0;
    }
  },
);

@tessera
class Solver extends Tessera {
  constructor(readonly size: number) {
    super();
  }
  solve(data: Float32Array): Float32Array {
    return data.map((value) => value * this.size);
  }
  solveMore(): void {}
}

declare function use<T>(value: T): void;
declare function expectType<T>(value: T): void;
/** True only when A and B are the same type (not merely assignable, not any). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
declare function assertTrue<T extends true>(): void;

async function typed(): Promise<void> {
  // --- tessera(class ...) ---------------------------------------------------
  const counter = Counter.remote(1);
  expectType<TesseraProxy<InstanceType<typeof Counter>>>(counter);
  // @ts-expect-error a constructor argument of the wrong type
  Counter.remote("one");
  Counter.options({ worker: "worker:0:1" }).remote(2);
  // @ts-expect-error a wrong option name
  Counter.options({ wroker: "worker:0:1" });

  const added = counter.add(2);
  expectType<TaskProxy<number>>(added);
  // @ts-expect-error a method the class does not have
  counter.subtract(2);
  // @ts-expect-error an argument of the wrong type
  counter.add("2");
  // @ts-expect-error a missing argument
  counter.label("n = ");
  // Fields are not remote methods.
  // @ts-expect-error
  counter.n;

  // An async method's task carries the awaited type.
  const label = counter.label("n = ", 8);
  expectType<TaskProxy<string>>(label);

  // A TaskProxy<number> (or an output producing a number) is accepted where a number is.
  counter.add(added);
  counter.label("n = ", added);
  // `!`: outputs has an index signature, which noUncheckedIndexedAccess reads as possibly undefined.
  counter.add(counter.pair().outputs[0]!);
  // @ts-expect-error a TaskProxy<string> is not a number
  counter.add(label);
  // @ts-expect-error a TaskProxy<void> is not a number
  counter.add(counter.reset());

  // outputs.done may be appended to any call, also one without parameters.
  counter.add(3, added.outputs.done);
  counter.reset(added.outputs.done, label.outputs.done);
  // @ts-expect-error outputs.done is not a value the method receives
  counter.add(added.outputs.done);
  // @ts-expect-error outputs.done only follows the method's arguments
  counter.label(added.outputs.done, "n = ", 8);

  // task.result() is Promise<R>; awaiting the task itself gives nothing.
  assertTrue<Equal<typeof added, TaskProxy<number>>>();
  assertTrue<Equal<ReturnType<typeof added.result>, Promise<number>>>();
  assertTrue<Equal<ReturnType<typeof label.result>, Promise<string>>>();
  assertTrue<Equal<ReturnType<ReturnType<typeof counter.pair>["result"]>, Promise<[number, string]>>>();
  assertTrue<Equal<ReturnType<ReturnType<typeof counter.reset>["result"]>, Promise<void>>>();
  // @ts-expect-error result() of a TaskProxy<number> is not Promise<any>
  assertTrue<Equal<ReturnType<typeof added.result>, Promise<any>>>();
  const value: number = await added.result();
  // @ts-expect-error result() of a TaskProxy<number> is not a string
  const wrong: string = await added.result();
  const nothing: void = await added;
  use([value, wrong, nothing]);

  // Proxy members besides the methods.
  expectType<string>(counter.uid);
  expectType<"pending" | "ready" | "restarting" | "failed" | "released">(counter.state);
  // A call with options of its own (Ray's `.options()`) is typed as the method.
  const retried: TaskProxy<number> = counter.add.options({ maxRetries: 2, retryExceptions: ["TypeError"] })(1);
  use([retried]);
  expectType<string | undefined>(counter.runtime);

  // Fields, read and written in call order.
  expectType<TaskProxy<number>>(counter.$get("n"));
  expectType<TaskProxy<number>>(counter.$get("start"));
  counter.$set("n", 3);
  counter.$set("n", added); // a task producing the field's type
  // @ts-expect-error an unknown field
  counter.$get("m");
  // @ts-expect-error a method is not a field
  counter.$get("add");
  // @ts-expect-error a value of the wrong type
  counter.$set("n", "three");

  // Outputs of object results name their fields.
  const stats = Counter.remote(0).pair();
  use(stats.outputs[0]);
  // Tessera arrays: broadcast calls, per-element arguments, elements.
  const counters = Counter.array(3, each([1, 2, 3]));
  expectType<TesseraArray<InstanceType<typeof Counter>>>(counters);
  Counter.array(2, 5);
  // @ts-expect-error a constructor argument of the wrong type
  Counter.array(2, "five");
  // @ts-expect-error per-element values of the wrong type
  Counter.array(2, each(["a", "b"]));
  const sums: ArrayTask<number> = counters.add(1);
  expectType<Promise<number[]>>(sums.result());
  counters.add(each([1, 2, 3]));
  // @ts-expect-error an argument of the wrong type
  counters.add("1");
  // @ts-expect-error an unknown method
  counters.subtract(1);
  expectType<TesseraProxy<InstanceType<typeof Counter>>>(counters[0]!);
  expectType<TesseraProxy<InstanceType<typeof Counter>>>(counters.at(-1));
  expectType<number>(counters.length);
  const waited = await wait([added, label], { numReturns: 1, timeout: 10 });
  expectType<TaskProxy<any>[]>(waited.ready);
  // @ts-expect-error wait takes tasks
  await wait([counter]);
  added.cancel();

  // Remote functions: typed as the function, returning tasks.
  const scale = remote(function scale(values: Float64Array, by: number): Float64Array {
    return values.map((value) => value * by);
  });
  expectType<TaskProxy<Float64Array>>(scale(new Float64Array(2), 3));
  scale(scale(new Float64Array(2), 3), 2); // a task producing the argument's type
  scale.options({ maxRetries: 1 })(new Float64Array(1), 2);
  // @ts-expect-error an argument of the wrong type
  scale(new Float64Array(2), "3");
  // @ts-expect-error a missing argument
  scale(new Float64Array(2));

  await counter;
  counter.release();
  added.release();

  // --- @tessera class X extends Tessera --------------------------------------
  const solver = Solver.remote(2);
  expectType<TesseraProxy<Solver>>(solver);
  // @ts-expect-error a constructor argument of the wrong type
  Solver.remote("2");
  Solver.options({ worker: "worker:0:0" }).remote(3);

  const solved = solver.solve(new Float32Array(4));
  assertTrue<Equal<ReturnType<typeof solved.result>, Promise<Float32Array>>>();
  // @ts-expect-error a method the class does not have
  solver.solveLess();
  // @ts-expect-error an argument of the wrong type
  solver.solve([1, 2, 3]);
  // @ts-expect-error a TaskProxy<number> is not a Float32Array
  solver.solve(added);
  // A task producing a Float32Array is accepted, as in the tutorial: solver2.solve(task1).
  solver.solve(solved);
  solver.solveMore(solved.outputs.done);
  // @ts-expect-error solveMore takes no value
  solver.solveMore(1);
}

use(typed);

// Element outputs keep their types: tuples by position, arrays through output(i).
{
  const Pair = tessera(
    class Pair {
      split(): [number, string] {
        return [1, "a"];
      }
      list(): number[] {
        return [1, 2];
      }
      takeNumber(value: number): number {
        return value;
      }
    },
  );
  const pair = Pair.remote();
  const split = pair.split();
  pair.takeNumber(split.outputs[0]);
  // @ts-expect-error element 1 of [number, string] is a string
  pair.takeNumber(split.outputs[1]);
  const list = pair.list();
  pair.takeNumber(list.output(0));
}
