/**
 * The sending half of the raw TCP bulk baseline between two hosts
 * (cluster.bench.ts): connects to a data-sink.ts at BENCH_HOST:`argv[2]`,
 * sends `argv[4]` messages of `argv[3]` bytes from one touched buffer (the
 * sink copies each into its reused buffer and answers with the last byte),
 * and prints the seconds of each as a JSON array.
 */
import { connectWithWriter } from "../_raw.ts";

const [port, bytes, rounds] = process.argv.slice(2, 5).map(Number) as [number, number, number];
const payload = new Uint8Array(bytes).fill(7);
const header = new Uint8Array(8);
new DataView(header.buffer).setUint32(0, bytes, true);
let answered: (() => void) | undefined;
const { socket, writer } = await connectWithWriter(port, () => answered?.());
const seconds: number[] = [];
for (let i = 0; i < rounds; i++) {
  const { promise, resolve } = Promise.withResolvers<void>();
  answered = resolve;
  const start = performance.now();
  writer.write(header);
  writer.write(payload);
  await promise;
  seconds.push((performance.now() - start) / 1000);
}
socket.end();
console.log(JSON.stringify(seconds));
