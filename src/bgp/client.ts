/**
 * The gRPC edge: a thin client for the few GoBGP v3 calls the agent makes.
 * No decisions here; callers get plain messages and errors.
 *
 * With `tls`, the channel is TLS (gobgpd `--tls`): the files are read again
 * before every new WatchEvent stream (a reconnect) and by `refreshTls()`
 * (SIGHUP); new contents give a new channel, unreadable ones keep the old.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type { ConfigIssue } from "../config/errors.ts";
import { readTlsMaterial, sameTlsMaterial, type TlsMaterial } from "../config/tls.ts";
import type { TlsConfig } from "../config/types.ts";
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
  /** TLS files (checked before: the first read must succeed). @default plaintext */
  tls?: TlsConfig;
  /** A re-read of the TLS files found new contents (`changed`) or unusable ones (kept the old). */
  onTlsReread?(result: { changed: true } | { changed: false; issues: ConfigIssue[] }): void;
}

/** What `refreshTls()` found. */
export type TlsRefresh = "plaintext" | "unchanged" | "changed" | "refused";

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

/**
 * grpc-js sweeps its subchannel pool for unused subchannels every 10 s
 * (`SubchannelPool.ensureCleanupTask`, a `setInterval` that runs for as long
 * as any subchannel is in use): the only wake-up of an idle agent besides
 * keepalives, in every agent of a fabric. This channel's pool is its own
 * (`grpc.use_local_subchannel_pool`) and `Channel.close()` releases its
 * subchannels itself, so the sweep has nothing to do: turn it off. Should
 * grpc-js's internals change shape, nothing happens (the sweep stays).
 */
function withoutPoolSweep(client: grpc.Client): void {
  const channel = client.getChannel() as unknown as {
    internalChannel?: { subchannelPool?: { ensureCleanupTask?: () => void } };
  };
  const pool = channel.internalChannel?.subchannelPool;
  if (pool !== undefined && typeof pool.ensureCleanupTask === "function") {
    pool.ensureCleanupTask = () => {};
  }
}

export class GobgpClient implements Disposable {
  #stub: GobgpApiStub;
  #options: GobgpClientOptions;
  #tls: TlsMaterial | undefined;
  /** WatchEvent calls in progress: ended when the channel is replaced. */
  #watches = new Set<grpc.ClientReadableStream<unknown>>();
  #timeoutMs: number;
  #closed = false;

  constructor(options: GobgpClientOptions) {
    this.#options = options;
    if (options.tls) {
      const read = readTlsMaterial(options.tls);
      if ("issues" in read) {
        throw new TypeError(
          `Cannot use gobgp.tls: ${read.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
        );
      }
      this.#tls = read.material;
    }
    this.#stub = this.#makeStub();
    this.#timeoutMs = options.timeoutMs;
  }

  #makeStub(): GobgpApiStub {
    const options = this.#options;
    const pkg = grpc.loadPackageDefinition(packageDefinition());
    const apipb = pkg["apipb"] as grpc.GrpcObject;
    const Ctor = apipb["GobgpApi"] as grpc.ServiceClientConstructor;
    const tls = this.#tls;
    const credentials = tls
      ? grpc.credentials.createSsl(
        Buffer.from(tls.ca),
        tls.key ? Buffer.from(tls.key) : null,
        tls.cert ? Buffer.from(tls.cert) : null,
      )
      : grpc.credentials.createInsecure();
    const names = tls?.serverName
      ? {
        "grpc.ssl_target_name_override": tls.serverName,
        "grpc.default_authority": tls.serverName,
      }
      : {};
    const stub = new Ctor(options.address, credentials, {
      ...names,
      "grpc.max_receive_message_length": options.maxReceiveBytes ?? 512 * 1024 * 1024,
      // gobgpd (grpc-go's default enforcement policy) allows a keepalive
      // ping at most every 5 minutes and closes the connection ("too many
      // pings") otherwise: a 20 s interval broke the stream every ~80 s.
      "grpc.keepalive_time_ms": 300_000,
      "grpc.keepalive_timeout_ms": 20_000,
      "grpc.keepalive_permit_without_calls": 0,
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 5_000,
      // A pool of this channel's own, without the sweep below.
      "grpc.use_local_subchannel_pool": 1,
    }) as unknown as GobgpApiStub;
    withoutPoolSweep(stub);
    return stub;
  }

  /**
   * Reads the TLS files again; with new contents the channel is replaced
   * (calls and streams on the old one end, and are made again on the new
   * one). Unusable files keep the old channel.
   */
  refreshTls(): TlsRefresh {
    const config = this.#options.tls;
    if (!config || this.#closed) return "plaintext";
    const read = readTlsMaterial(config);
    if ("issues" in read) {
      this.#options.onTlsReread?.({ changed: false, issues: read.issues });
      return "refused";
    }
    if (this.#tls && sameTlsMaterial(this.#tls, read.material)) return "unchanged";
    this.#tls = read.material;
    const old = this.#stub;
    this.#stub = this.#makeStub();
    this.#options.onTlsReread?.({ changed: true });
    // Streams on the old channel end (as CANCELLED); their owners subscribe again.
    for (const call of [...this.#watches]) call.cancel();
    old.close();
    return "changed";
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
    this.refreshTls(); // a new stream is a reconnect: certificates may have been renewed
    const call = this.#stub.WatchEvent({
      peer: {},
      table: { filters: [{ type: FILTER_BEST, init: true }] },
    });
    this.#watches.add(call);
    let ended = false;
    const end = (error: Error | undefined) => {
      this.#watches.delete(call);
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
      cancel: () => {
        this.#watches.delete(call);
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
