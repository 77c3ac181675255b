/**
 * The live dashboard (`init({ dashboard: true })`, `mosaic run --dashboard`):
 * a page served with Bun.serve on loopback, updated over a WebSocket once a
 * second from the board. Only the head loads this module, and only with the
 * option on (head.ts imports it when asked), so a run without it pays nothing.
 *
 * A random token guards both the page and the socket: the page runs no code
 * anywhere, but it shows the program's names, errors and log lines. A request
 * without the token gets 401, one with a wrong token 403.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { ConsolaReporter, LogObject } from "consola/core";
import type { Server, ServerWebSocket } from "bun";
import { AddressInUseError } from "../../errors.ts";
import type { EventStream } from "../events.ts";
import { type BoardSource, DashboardBoard } from "./board.ts";
import { dashboardPage } from "./page-bundle.ts" with { type: "macro" };

const PAGE: string = dashboardPage();

/** Ray's dashboard port: `dashboard: true` takes it when free, any free port otherwise. */
export const DEFAULT_DASHBOARD_PORT = 8265;

const TOPIC = "board";
/** consola's types → our streams (as log-files.ts reads them). */
const STREAM_OF_TYPE: Record<string, string> = { error: "error", warn: "warning", info: "info", debug: "perf", trace: "debug" };

export interface DashboardOptions extends BoardSource {
  /** true: DEFAULT_DASHBOARD_PORT, or any free port when it is taken; a number: that port (0: any free one). */
  port: true | number;
  /** Where to listen. Default 127.0.0.1: only this machine reaches it. */
  hostname?: string;
  /** Milliseconds between updates. Default 1000. */
  interval?: number;
}

export class DashboardServer {
  readonly token = randomBytes(16).toString("hex");
  readonly board: DashboardBoard;
  readonly #server: Server<undefined>;
  readonly #timer: Timer;

  constructor(events: EventStream, options: DashboardOptions) {
    this.board = new DashboardBoard(events, options);
    const hostname = options.hostname ?? "127.0.0.1";
    this.#server = listen(hostname, options.port, (request, server) => this.#fetch(request, server), {
      open: (ws) => {
        ws.subscribe(TOPIC);
        ws.send(JSON.stringify(this.board.snapshot()));
      },
      message: () => {}, // the page only listens
    });
    this.#timer = setInterval(() => this.#tick(), options.interval ?? 1000);
    this.#timer.unref();
  }

  get port(): number {
    return this.#server.port!;
  }

  /** The page's address, token included: print it once, share it with care. */
  get url(): string {
    return `http://${this.#server.hostname}:${this.port}/?token=${this.token}`;
  }

  /** A consola reporter for the head's logger: the page's log view gets every line the head prints or relays. */
  reporter(): ConsolaReporter {
    return {
      log: (record: LogObject) => {
        const stream = (record.stream as string | undefined) ?? STREAM_OF_TYPE[record.type] ?? "info";
        const text = record.args.map((part) => (typeof part === "string" ? part : Bun.inspect(part))).join(" ");
        this.board.log(record.tag || this.board.snapshot().head, stream, text, record.date?.getTime());
      },
    };
  }

  #tick(): void {
    this.board.tick();
    const delta = this.board.takeDelta();
    if (this.#server.subscriberCount(TOPIC) > 0) this.#server.publish(TOPIC, JSON.stringify(delta));
  }

  #fetch(request: Request, server: Server<undefined>): Response | undefined {
    const url = new URL(request.url);
    if (url.pathname !== "/" && url.pathname !== "/ws") return new Response("not found\n", { status: 404 });
    const refusal = this.#refusal(url.searchParams.get("token"));
    if (refusal) return refusal;
    if (url.pathname === "/ws") {
      if (server.upgrade(request)) return undefined;
      return new Response("a WebSocket upgrade was expected\n", { status: 400 });
    }
    return new Response(PAGE, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        // The token is in the address: it must not leave in a Referer header.
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
      },
    });
  }

  #refusal(token: string | null): Response | undefined {
    if (!token) return new Response("this dashboard needs its token: open the address the head printed (…/?token=…)\n", { status: 401 });
    const given = Buffer.from(token);
    const expected = Buffer.from(this.token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return new Response("wrong dashboard token\n", { status: 403 });
    return undefined;
  }

  /** Closes the server and its sockets, and stops listening to the events. */
  stop(): void {
    clearInterval(this.#timer);
    this.board.stop();
    this.#server.stop(true);
  }
}

function listen(
  hostname: string,
  port: true | number,
  fetch: (request: Request, server: Server<undefined>) => Response | undefined,
  websocket: { open(ws: ServerWebSocket<undefined>): void; message(): void },
): Server<undefined> {
  const serve = (at: number) => Bun.serve<undefined>({ hostname, port: at, fetch, websocket });
  try {
    return serve(port === true ? DEFAULT_DASHBOARD_PORT : port);
  } catch (error) {
    if ((error as { code?: string }).code !== "EADDRINUSE") throw error;
    if (port === true) return serve(0);
    throw new AddressInUseError(`the dashboard's port ${port} on ${hostname} is in use: choose another (--dashboard=PORT) or --dashboard for any free one`);
  }
}
