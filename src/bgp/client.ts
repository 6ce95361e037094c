/**
 * The gRPC edge: a thin client for the few GoBGP v3 calls the agent makes.
 * No decisions here; callers get plain messages and errors.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { packageDefinition } from "./proto.ts";
import type { PathMessage } from "./path_codec.ts";

/** `apipb.TableType.GLOBAL`. */
const TABLE_GLOBAL = 0;
/** `apipb.WatchEventRequest.Table.Filter.Type.BEST`. */
const FILTER_BEST = 0;

export interface GobgpClientOptions {
  /** `host:port` of gobgpd's API. */
  address: string;
  /** Deadline of unary calls, in ms. */
  timeoutMs: number;
  /**
   * Largest message accepted, in bytes: the whole initial table arrives as
   * one message. @default 512 MiB
   */
  maxReceiveBytes?: number;
}

/** A peer event: INIT (one per known peer, first), END_OF_INIT, or a STATE change. */
export interface PeerEvent {
  type: "init" | "end-of-init" | "state" | "unknown";
  /** Neighbor address; "" for END_OF_INIT. */
  address: string;
  established: boolean;
}

const PEER_EVENT_TYPES = ["unknown", "init", "end-of-init", "state"] as const;
/** `apipb.PeerState.SessionState.ESTABLISHED`. */
const SESSION_ESTABLISHED = 6;

/** One configured BGP neighbour of gobgpd and the address families of its session. */
export interface PeerInfo {
  address: string;
  families: { afi: number; safi: number }[];
  established: boolean;
}

/** Handlers of one WatchEvent stream. */
export interface WatchHandlers {
  /** Peer events: sent before the table, then on every session change. */
  onPeer?(event: PeerEvent): void;
  /** One `TableEvent`: the first is the complete table, then changes. */
  onTable(paths: PathMessage[]): void;
  /** The stream ended (error, cancel or server close); called once. */
  onEnd(error: Error | undefined): void;
}

/** A running WatchEvent stream. */
export interface WatchStream {
  cancel(): void;
}

type Unary<Req, Res> = (
  request: Req,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

interface ListPeerResponse {
  peer?: {
    state?: { neighborAddress?: string; sessionState?: number } | null;
    afiSafis?: { config?: { family?: { afi?: number; safi?: number } | null } | null }[];
  } | null;
}

interface GobgpApiStub extends grpc.Client {
  GetBgp: Unary<Record<string, never>, { global?: { asn: number; routerId: string } }>;
  AddPath: Unary<{ tableType: number; path: PathMessage }, { uuid: Uint8Array }>;
  DeletePath: Unary<{ tableType: number; path: PathMessage }, Record<string, never>>;
  ListPeer(request: unknown, options?: grpc.CallOptions): grpc.ClientReadableStream<
    ListPeerResponse
  >;
  WatchEvent(request: unknown, options?: grpc.CallOptions): grpc.ClientReadableStream<{
    table?: { paths?: PathMessage[] } | null;
    peer?: {
      type?: number;
      peer?: { state?: { neighborAddress?: string; sessionState?: number } | null } | null;
    } | null;
  }>;
}

export class GobgpClient implements Disposable {
  #stub: GobgpApiStub;
  #timeoutMs: number;
  #closed = false;

  constructor(options: GobgpClientOptions) {
    const pkg = grpc.loadPackageDefinition(packageDefinition());
    const apipb = pkg["apipb"] as grpc.GrpcObject;
    const Ctor = apipb["GobgpApi"] as grpc.ServiceClientConstructor;
    this.#stub = new Ctor(options.address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": options.maxReceiveBytes ?? 512 * 1024 * 1024,
      // gobgpd (grpc-go's default enforcement policy) allows a keepalive
      // ping at most every 5 minutes and closes the connection ("too many
      // pings") otherwise: a 20 s interval broke the stream every ~80 s.
      "grpc.keepalive_time_ms": 300_000,
      "grpc.keepalive_timeout_ms": 20_000,
      "grpc.keepalive_permit_without_calls": 0,
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 5_000,
    }) as unknown as GobgpApiStub;
    this.#timeoutMs = options.timeoutMs;
  }

  #deadline(): grpc.CallOptions {
    return { deadline: new Date(Date.now() + this.#timeoutMs) };
  }

  #unary<Req, Res>(call: Unary<Req, Res>, request: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      call.call(this.#stub, request, this.#deadline(), (error, response) => {
        if (error) reject(error);
        else resolve(response);
      });
    });
  }

  /** `GetBgp`: the global config; fails when gobgpd is unreachable. */
  async getBgp(): Promise<{ asn: number; routerId: string }> {
    const response = await this.#unary(this.#stub.GetBgp, {});
    return { asn: response.global?.asn ?? 0, routerId: response.global?.routerId ?? "" };
  }

  /** `AddPath` into the global table; returns the path's UUID. */
  async addPath(path: PathMessage): Promise<Uint8Array> {
    const response = await this.#unary(this.#stub.AddPath, { tableType: TABLE_GLOBAL, path });
    return response.uuid;
  }

  /** `DeletePath` of one path (never without a path: that would delete all local paths). */
  async deletePath(path: PathMessage): Promise<void> {
    if (!path.nlri) throw new TypeError("Refusing DeletePath without an NLRI");
    await this.#unary(this.#stub.DeletePath, { tableType: TABLE_GLOBAL, path });
  }

  /** `ListPeer`: gobgpd's neighbours (dynamic ones once they connected) and their families. */
  listPeers(): Promise<PeerInfo[]> {
    return new Promise((resolve, reject) => {
      const peers: PeerInfo[] = [];
      const call = this.#stub.ListPeer({}, this.#deadline());
      call.on("data", (response: ListPeerResponse) => {
        const peer = response.peer;
        if (!peer) return;
        peers.push({
          address: peer.state?.neighborAddress ?? "",
          families: (peer.afiSafis ?? []).map((a) => ({
            afi: a.config?.family?.afi ?? 0,
            safi: a.config?.family?.safi ?? 0,
          })),
          established: peer.state?.sessionState === SESSION_ESTABLISHED,
        });
      });
      call.on("error", reject);
      call.on("end", () => resolve(peers));
    });
  }

  /** `WatchEvent` for peer states and best paths, with the current peers and table first. */
  watchBest(handlers: WatchHandlers): WatchStream {
    const call = this.#stub.WatchEvent({
      peer: {},
      table: { filters: [{ type: FILTER_BEST, init: true }] },
    });
    let ended = false;
    const end = (error: Error | undefined) => {
      if (ended) return;
      ended = true;
      handlers.onEnd(error);
    };
    call.on("data", (response) => {
      if (ended) return;
      if (response.peer) {
        const state = response.peer.peer?.state;
        handlers.onPeer?.({
          type: PEER_EVENT_TYPES[response.peer.type ?? 0] ?? "unknown",
          address: state?.neighborAddress ?? "",
          established: state?.sessionState === SESSION_ESTABLISHED,
        });
      }
      if (response.table) handlers.onTable(response.table.paths ?? []);
    });
    call.on("error", (error: Error) => end(error));
    call.on("end", () => end(new Error("gobgpd closed the WatchEvent stream")));
    return {
      cancel() {
        if (ended) return;
        ended = true;
        call.cancel();
      },
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stub.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
